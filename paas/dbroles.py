"""Two PostgreSQL roles: the owner runs migrations, the application runs as a
role that may only INSERT and SELECT the audit tables.

Privileges, not just triggers: a trigger can be disabled by whoever owns the
table, a privilege the run-time role lacks cannot be taken back by it. With
settings.DATABASE_OWNER unset (one role, or SQLite) nothing here applies.
"""
from contextlib import contextmanager

from django.conf import settings

#: Tables the run-time role may only read and append to.
APPEND_ONLY_TABLES = ("audit_auditevent", "audit_auditcheckpoint")
_ROLE_KEYS = ("USER", "PASSWORD", "HOST", "PORT")


def use_role(connection, role: dict) -> None:
    """Point a connection at another role's credentials (same database name)."""
    if all(connection.settings_dict.get(k) == role.get(k) for k in _ROLE_KEYS):
        return
    connection.close()
    connection.settings_dict.update({k: role.get(k) for k in _ROLE_KEYS})


def use_owner(connection) -> None:
    use_role(connection, settings.DATABASE_OWNER)


def use_runtime(connection) -> None:
    use_role(connection, settings.DATABASE_RUNTIME)


@contextmanager
def as_owner(connection):
    previous = {k: connection.settings_dict.get(k) for k in _ROLE_KEYS}
    use_owner(connection)
    try:
        yield
    finally:
        use_role(connection, previous)


def grant_runtime_role(connection) -> str:
    """Give the run-time role DML on every table but only SELECT/INSERT on the audit tables.

    Idempotent; `migrate` runs it after every migration run, so tables a new
    migration adds are covered (default privileges cover them in between).
    """
    role = settings.DATABASE_RUNTIME["USER"]
    qn = connection.ops.quote_name
    r = qn(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        owner, schema = cursor.fetchone()
        if owner == role:
            return f"the run-time role {role} is the owner: privileges cannot restrict it"
        s = qn(schema)
        statements = [
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}",
        ]
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
                       [schema, list(APPEND_ONLY_TABLES)])
        for (table,) in cursor.fetchall():
            statements.append(f"REVOKE ALL ON {qn(table)} FROM {r}")
            statements.append(f"GRANT SELECT, INSERT ON {qn(table)} TO {r}")
        for statement in statements:
            cursor.execute(statement)
    return f"granted {role}: DML on {schema}'s tables, SELECT and INSERT only on {', '.join(APPEND_ONLY_TABLES)}"
