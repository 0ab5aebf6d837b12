"""Strict JSON types for API input.

DRF fields coerce: "true" or 1 becomes True, "5" becomes 5, 5 becomes "5". The
schema promises a boolean, an integer, a string; a client sending something else
has a bug it should hear about, so the API refuses it (400 naming the field)
instead of guessing. The API reads JSON only (settings.REST_FRAMEWORK
DEFAULT_PARSER_CLASSES), so every value arrives with its real type; form input,
where everything is a string, never reaches an API serializer.

`type_errors(serializer, data)` is called by ActorMixin.validated() for every
input serializer, so each API view gets it without opting in.
"""
from collections.abc import Mapping

from django.utils.translation import gettext as _
from rest_framework import fields as f
from rest_framework import relations, serializers

# Checked in order: the first matching class decides (BooleanField before IntegerField's int check).
_EXPECTED = [
    (f.BooleanField, (bool,), "boolean"),
    (f.IntegerField, (int,), "integer"),
    ((f.FloatField, f.DecimalField), (int, float), "number"),
    ((f.DateTimeField, f.DateField, f.TimeField, f.DurationField), (str,), "string"),
    ((f.CharField, f.ChoiceField, relations.RelatedField), (str,), "string"),
    (f.DictField, (Mapping,), "object"),
    (f.ListField, (list,), "array"),
]


def _problem(field, value):
    """An error (a message, or a dict/list of them for containers), or None when the type fits."""
    if value is None or isinstance(field, f.JSONField):
        return None  # null is the field's own allow_null decision; JSON fields take anything
    if isinstance(field, serializers.BaseSerializer) and not isinstance(field, serializers.ListSerializer):
        return type_errors(field, value) if isinstance(value, Mapping) else None
    for classes, types, name in _EXPECTED:
        if not isinstance(field, classes):
            continue
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            return [_("Must be a JSON %(type)s.") % {"type": name}]
        if isinstance(field, f.DictField):
            errors = {k: p for k, v in value.items() if (p := _problem(field.child, v))}
            return errors or None
        if isinstance(field, f.ListField):
            errors = {i: p for i, v in enumerate(value) if (p := _problem(field.child, v))}
            return errors or None
        return None
    return None


def type_errors(serializer, data) -> dict:
    """field name -> error, for the writable fields of `serializer` present in `data` with a wrong JSON type."""
    if not isinstance(data, Mapping):
        return {}  # the serializer itself answers "expected a dictionary"
    errors = {}
    for field in serializer.fields.values():
        if field.read_only or field.field_name not in data:
            continue
        problem = _problem(field, data[field.field_name])
        if problem:
            errors[field.field_name] = problem
    return errors
