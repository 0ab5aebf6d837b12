"""`make bench`: the project's benchmarks, each printing its own table of figures."""
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the benchmarks (audit trail; simulator scale and federation when available) and print figures."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=["audit", "simulator", "federation"], help="run one benchmark")
        parser.add_argument("--audit-events", type=int, default=100_000, help="audit rows to insert and export")

    def handle(self, *args, only=None, audit_events=100_000, **options):
        from paas.audit import bench as audit_bench

        if only in (None, "audit"):
            self.stdout.write(self.style.MIGRATE_HEADING("Audit trail"))
            audit_bench.run(audit_events, out=self.stdout.write)
        for name, module in (("simulator", "clusters.simulator.bench"), ("federation", "clusters.federation.bench")):
            if only not in (None, name):
                continue
            try:
                bench = __import__(module, fromlist=["main"])
            except ImportError:
                self.stdout.write(f"{name}: benchmark not available yet")
                continue
            self.stdout.write(self.style.MIGRATE_HEADING(name.title()))
            bench.main()
