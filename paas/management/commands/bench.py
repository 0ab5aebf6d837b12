"""`make bench`: the project's benchmarks, each printing its own table of figures."""
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Run the benchmarks (audit trail, simulator scale, federation, input bounds, live events fan-out, "
            "image build, artifact upload memory, release) and print their figures.")

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=["audit", "simulator", "federation", "input", "realtime", "build",
                                               "upload", "release"], help="run one benchmark")
        parser.add_argument("--audit-events", type=int, default=100_000, help="audit rows to insert and export")
        from applications.builds import bench as upload_bench
        from clusters.federation import bench as federation_bench

        federation_bench.add_arguments(parser)
        upload_bench.add_arguments(parser)
        from applications.oci import bench as build_bench

        build_bench.add_arguments(parser)
        from releases import bench as release_bench

        release_bench.add_arguments(parser)
        live = parser.add_argument_group("realtime (live events fan-out, issue 7)")
        live.add_argument("--watchers", default="10,100,300,1000",
                          help="comma-separated watcher counts, one row each (default 10,100,300,1000)")
        live.add_argument("--events", type=int, default=20, help="events per row (default 20)")
        live.add_argument("--rate", type=float, default=2.0, help="events per second (default 2)")
        live.add_argument("--burst", type=int, default=200, help="events in the burst row, 0 to skip (default 200)")
        live.add_argument("--burst-watchers", type=int, default=100, help="watchers of the burst (default 100)")
        live.add_argument("--reconnect", type=int, default=1000,
                          help="watchers in the mass reconnect, 0 to skip (default 1000)")
        live.add_argument("--two-processes", type=int, default=1000,
                          help="watchers for the 2 web processes row, 0 to skip (default 1000)")
        live.add_argument("--grace", type=float, default=5.0,
                          help="seconds to wait for stragglers after the last event is sent (default 5)")
        live.add_argument("--max-wait", type=float, default=20.0,
                          help="at most this many seconds after the last send before the rest counts as lost")
        live.add_argument("--emitters", type=int, default=2,
                          help="emitting processes taking turns, as a worker's pool (default 2)")
        live.add_argument("--client-procs", type=int, default=1, help="WebSocket client processes (default 1)")
        live.add_argument("--server-dir", default=None,
                          help="project directory whose web/emitter code is measured (default: this one)")
        live.add_argument("--realtime-timeout", type=float, default=600.0,
                          help="overall limit in seconds for the realtime benchmark (default 600)")

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
            federation_bench.run_from_options(options)
        if only in (None, "input"):
            from paas import bench_input

            self.stdout.write(self.style.MIGRATE_HEADING("Input bounds (hostile and large documents)"))
            bench_input.run(out=self.stdout.write)
        if only in (None, "realtime"):
            from paas.realtime import bench as realtime_bench

            self.stdout.write(self.style.MIGRATE_HEADING("Live events fan-out (issue 7)"))
            realtime_bench.run(
                out=self.stdout.write,
                watchers=tuple(int(w) for w in options["watchers"].split(",") if w.strip()),
                events=options["events"], rate=options["rate"], burst=options["burst"],
                burst_watchers=options["burst_watchers"], reconnect=options["reconnect"],
                two_processes=options["two_processes"], grace=options["grace"],
                max_wait=options["max_wait"], client_procs=options["client_procs"],
                emitters=options["emitters"], server_dir=options["server_dir"],
                timeout=options["realtime_timeout"])
        if only in (None, "build"):
            from applications.oci import bench as build_bench

            self.stdout.write(self.style.MIGRATE_HEADING("Image build (native builder, issue 10)"))
            build_bench.run_from_options(options, out=self.stdout.write)
        if only in (None, "upload"):
            from applications.builds import bench as upload_bench

            self.stdout.write(self.style.MIGRATE_HEADING("Artifact upload: web process memory (issue 10)"))
            upload_bench.run(out=self.stdout.write, mib=options["upload_mib"], compare=options["upload_compare"])
        if only in (None, "release"):
            from releases import bench as release_bench

            self.stdout.write(self.style.MIGRATE_HEADING("Release (issue 11)"))
            release_bench.run_from_options(options, out=self.stdout.write)
