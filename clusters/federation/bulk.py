"""Fast multi-row UPDATE by primary key: one prepared statement, executemany.

Django's bulk_update builds a CASE WHEN per field and row, which costs more CPU
than the database work for the thousands of rows a sync run records. Values go
through each field's get_db_prep_save(), so JSON and datetimes are stored exactly
as the ORM stores them.
"""
from django.db import connection


def update_rows(model, rows, fields: list[str]) -> None:
    if not rows:
        return
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    # In primary-key order: every writer that locks several rows takes them in the same order
    # (record._current does too), so two of them queue instead of deadlocking.
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in concrete] + [row.pk]
              for row in sorted(rows, key=lambda row: row.pk)]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
