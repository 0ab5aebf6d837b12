from rest_framework import serializers

from .models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = (
            "id", "created_at", "actor_type", "actor_id", "actor_label", "user_id", "tenant_id",
            "tenant_slug", "action", "target_type", "target_id", "target_label", "changes", "outcome",
            "reason", "request_id", "source_ip", "user_agent", "prev_hash", "hash",
        )
        read_only_fields = fields
