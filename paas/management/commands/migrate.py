"""`migrate`, run as the owner role when settings.DATABASE_OWNER is set, followed by
the run-time role's grants (paas.dbroles). Without it, Django's migrate unchanged.

Overriding the built-in command (this app comes before django.core in command
lookup) means every caller gets it: `make run`, deploy scripts, and the test
database setup, which calls migrate.
"""
from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS, connections

from paas.dbroles import as_owner, grant_runtime_role


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if settings.DATABASE_OWNER is None or connection.alias != DEFAULT_DB_ALIAS \
                or connection.vendor != "postgresql":
            return super().handle(*args, **options)
        with as_owner(connection):
            super().handle(*args, **options)
            message = grant_runtime_role(connection)
        if options.get("verbosity", 1) >= 1:
            self.stdout.write(message)
