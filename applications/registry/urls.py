"""Portal pages under /registry/ (the registry protocol itself is /v2/, see v2/urls.py).

Repository names contain slashes; "-" is never a name component (components start with a letter
or digit), so /registry/<name>/-/... cannot be mistaken for a longer name.
"""
from django.urls import path, register_converter

from . import views


class RepositoryNameConverter:
    regex = r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class TagConverter:
    regex = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(RepositoryNameConverter, "repositoryname")
register_converter(TagConverter, "tag")

app_name = "registry"

urlpatterns = [
    path("", views.repository_list, name="list"),
    path("<repositoryname:name>/", views.repository_detail, name="detail"),
    path("<repositoryname:name>/-/tags/<tag:tag>/delete/", views.tag_delete, name="tag-delete"),
]
