"""No views are needed: templates are rendered directly in the tests."""

urlpatterns: list = []
