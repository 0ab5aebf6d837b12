from rest_framework import serializers

from .labels import action_label
from .models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField(help_text="The action in words, in the request's language.")

    def get_action_label(self, event) -> str:
        return action_label(event.action)

    class Meta:
        model = AuditEvent
        fields = (
            "id", "created_at", "actor_type", "actor_id", "actor_label", "user_id", "tenant_id",
            "tenant_slug", "action", "action_label", "target_type", "target_id", "target_label", "changes", "outcome",
            "reason", "request_id", "source_ip", "user_agent", "prev_hash", "hash",
        )
        read_only_fields = fields
