from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """``?page=&limit=`` (at most 1000) over an ordered queryset."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise ValueError("Paginating an unordered queryset would repeat or skip rows between pages.")
        return super().paginate_queryset(queryset, request, view)
