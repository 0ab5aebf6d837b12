"""`make bench`: the project's benchmarks, each printing its own table of figures."""
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the benchmarks (audit trail, simulator scale, federation, input bounds) and print their figures."

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=["audit", "simulator", "federation", "input"], help="run one benchmark")
        parser.add_argument("--audit-events", type=int, default=100_000, help="audit rows to insert and export")

    def handle(self, *args, only=None, audit_events=100_000, **options):
        from paas.audit import bench as audit_bench

        if only in (None, "audit"):
            self.stdout.write(self.style.MIGRATE_HEADING("Audit trail"))
            audit_bench.run(audit_events, out=self.stdout.write)
        if only in (None, "simulator"):
            from clusters.simulator import bench as simulator_bench

            self.stdout.write(self.style.MIGRATE_HEADING("Simulator scale (10,000 nodes, 100,000 pods)"))
            simulator_bench.run_benchmark()
        if only in (None, "federation"):
            from clusters.federation import bench as federation_bench

            self.stdout.write(self.style.MIGRATE_HEADING("Federation"))
            federation_bench.main()
        if only in (None, "input"):
            from paas import bench_input

            self.stdout.write(self.style.MIGRATE_HEADING("Input bounds (hostile and large documents)"))
            bench_input.run(out=self.stdout.write)
