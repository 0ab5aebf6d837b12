from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(db_index=True, verbose_name="time (UTC)")),
                ("actor_type", models.CharField(choices=[("user", "User"), ("token", "API token"), ("system", "System process"), ("anonymous", "Anonymous")], max_length=16, verbose_name="actor type")),
                ("actor_id", models.CharField(blank=True, max_length=64, verbose_name="actor id")),
                ("actor_label", models.CharField(blank=True, max_length=200, verbose_name="actor")),
                ("user_id", models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name="user id")),
                ("tenant_id", models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name="tenant id")),
                ("tenant_slug", models.CharField(blank=True, max_length=64, verbose_name="tenant")),
                ("action", models.CharField(db_index=True, max_length=100, verbose_name="action")),
                ("target_type", models.CharField(blank=True, db_index=True, max_length=100, verbose_name="target type")),
                ("target_id", models.CharField(blank=True, max_length=64, verbose_name="target id")),
                ("target_label", models.CharField(blank=True, max_length=300, verbose_name="target")),
                ("changes", models.JSONField(blank=True, default=dict, verbose_name="changes")),
                ("request_id", models.CharField(blank=True, db_index=True, max_length=64, verbose_name="request id")),
                ("source_ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="source IP")),
                ("user_agent", models.CharField(blank=True, max_length=512, verbose_name="user agent")),
                ("outcome", models.CharField(choices=[("success", "Success"), ("denied", "Denied"), ("failed", "Failed")], default="success", max_length=16, verbose_name="outcome")),
                ("reason", models.TextField(blank=True, verbose_name="reason")),
                ("prev_hash", models.CharField(max_length=64, verbose_name="previous hash")),
                ("hash", models.CharField(max_length=64, unique=True, verbose_name="hash")),
            ],
            options={
                "verbose_name": "audit event",
                "verbose_name_plural": "audit events",
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["tenant_id", "-id"], name="audit_tenant_recent")],
            },
        ),
    ]
