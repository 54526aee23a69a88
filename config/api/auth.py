from rest_framework_simplejwt.views import TokenObtainPairView

from config.api.throttling import LOGIN_THROTTLES


class ThrottledTokenObtainPairView(TokenObtainPairView):
    """simplejwt's token view with the login throttles against password guessing."""

    throttle_classes = list(LOGIN_THROTTLES)
