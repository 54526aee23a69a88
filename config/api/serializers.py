from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers


class FullCleanModelSerializer(serializers.ModelSerializer):
    """Runs the model's ``full_clean()``: the model is the one source of validation truth.

    Values the client does not send but the view sets (a nested resource's store) come
    from ``context["instance_defaults"]``.
    """

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        plain = {k: v for k, v in attrs.items() if not model._meta.get_field(k).many_to_many}
        if self.instance is not None:
            candidate = model(**{f.attname: getattr(self.instance, f.attname) for f in model._meta.concrete_fields})
            candidate._state.adding = False  # unique checks must not count the instance itself
            candidate._state.db = self.instance._state.db
        else:
            candidate = model(**self.context.get("instance_defaults", {}))
        for key, value in plain.items():
            setattr(candidate, key, value)
        try:
            candidate.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        return attrs


class UniqueListField(serializers.ListField):
    """A list whose items may each appear once: refused otherwise, and ``uniqueItems`` in the schema."""

    default_error_messages = {"not_unique": "An item is listed twice."}

    def to_internal_value(self, data):
        items = super().to_internal_value(data)
        if len(set(map(repr, items))) != len(items):
            self.fail("not_unique")
        return items


class UniqueListFieldSchema(OpenApiSerializerFieldExtension):
    target_class = UniqueListField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "uniqueItems": True}
