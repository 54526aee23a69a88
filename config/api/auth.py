from rest_framework_simplejwt.views import TokenObtainPairView

from config.api.throttling import LoginAddressThrottle, LoginUserThrottle


class ThrottledTokenObtainPairView(TokenObtainPairView):
    """simplejwt's token view with the login throttles against password guessing."""

    throttle_classes = [LoginAddressThrottle, LoginUserThrottle]
