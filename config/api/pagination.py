import re

from rest_framework.pagination import PageNumberPagination

from config.api import params


class StandardPagination(PageNumberPagination):
    """``?page=&limit=`` (at most 1000) over an ordered queryset; a ``page`` that is not a whole
    number from 1, or a ``limit`` not from 1 to 1000, answers 400 (an empty one too)."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000

    def get_page_size(self, request):
        return params.bounded_int(
            request.query_params, self.page_size_query_param, default=self.page_size, low=1, high=self.max_page_size
        )

    def get_page_number(self, request, paginator):
        # A whole number from 1, however large (400 otherwise, as for limit); past the last page,
        # Django's paginator answers DRF's 404.
        text = request.query_params.get(self.page_query_param)
        if text is None:
            return 1
        if not re.fullmatch(r"[0-9]+", text.strip()) or not text.strip().strip("0"):
            raise params.invalid(f"{self.page_query_param} must be a whole number of at least 1")
        return text.strip()

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise ValueError("Paginating an unordered queryset would repeat or skip rows between pages.")
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            elif parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
