"""`sscard emulate` as a test bench: scenario steps and control requests against N vpcd slots,
one JSON event per line on stdout.  Everything is checked before pcscd starts or a card goes in."""

from __future__ import annotations

import os
import signal
import sys
import threading

from sscard import errors
from sscard.errors import ExitCode

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SYSTEM_READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
READERS_TIMEOUT_S = 15.0


class _Stopped(Exception):
    pass


def _print_event(event: dict) -> None:
    from sscard.cli.output import dumps

    sys.stdout.write(dumps(event) + "\n")
    sys.stdout.flush()


def run_bench(
    *, persona, slot, with_psam, port, host, scenario_path, slots, socket_path, control_port
) -> int:
    from sscard.emulator.scenario import PSAM, Step, load_scenario

    scenario = load_scenario(scenario_path) if scenario_path else None
    first: list[Step] = []
    if persona is not None:
        first.append(Step("insert", slot=slot, persona=persona))
        if with_psam:
            first.append(Step("insert", slot=slot + 1, persona=PSAM))
    steps = first + list(scenario.steps if scenario else ())
    daemon = None
    if slots is not None:
        from sscard.testing.pcscd import PrivatePcscd, missing_reason

        if missing_reason():
            raise errors.ServiceUnavailable(f"cannot start a private pcscd: {missing_reason()}")
        if socket_path:
            _claim_socket_path(socket_path)
        daemon = PrivatePcscd(slots=slots, socket_path=socket_path)
        readers, ports = list(daemon.readers), [daemon.slot_port(s) for s in range(slots)]
    else:
        readers, ports = list(SYSTEM_READERS), [port, port + 1]
    try:
        return _run(
            host, scenario_path, scenario, first, steps, daemon, readers, ports, control_port
        )
    finally:
        if daemon is not None:
            daemon.cleanup()


def _claim_socket_path(path: str) -> None:
    """--socket PATH: free, or a socket left by a bench that is gone (removed); anything else
    is refused."""
    import socket
    import stat

    if not os.path.lexists(path):
        return
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise errors.InvalidArgument(f"--socket {path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: left over
        return
    finally:
        probe.close()
    raise errors.InvalidArgument(f"--socket {path} is in use by a running pcscd")


def _run(host, scenario_path, scenario, first, steps, daemon, readers, ports, control_port) -> int:
    """Check everything, then start pcscd (if private), the watcher and the control channel,
    run the steps and stay as asked; every card out and everything stopped at the end."""
    from sscard.emulator.bench import Bench, ScenarioFailed
    from sscard.emulator.control import ControlServer, EventLog

    if scenario is not None and scenario.slots > len(readers):
        raise errors.SpecError(
            f"scenario {os.path.basename(scenario_path)} needs "
            f"{scenario.slots} slots; this bench has {len(readers)} "
            "(--slots N)"
        )
    events = EventLog(_print_event)
    presence = None
    bench = Bench(readers, ports, events, presence=None, host=host)
    bench.has_control = control_port is not None
    bench.check(first, None, "command line")
    if scenario is not None:
        bench.check(steps, scenario.base, f"scenario {os.path.basename(scenario_path)}")

    stop = threading.Event()

    def on_term(*_args):
        stop.set()
        raise _Stopped()

    previous = signal.signal(signal.SIGTERM, on_term)
    control = None
    code = ExitCode.OK
    try:
        env = os.environ
        if daemon is not None:
            daemon.start()
            env = daemon.client_env()
        if host in LOCAL_HOSTS:
            from sscard.testing.observer import PcscObserver

            presence = PcscObserver(env)
            for s in bench.slots:
                s.presence = presence
            try:
                presence.wait_readers(readers, READERS_TIMEOUT_S)
            except TimeoutError:
                raise errors.ServiceUnavailable(
                    f"pcscd does not list the vpcd readers {readers} (is vsmartcard-vpcd "
                    "installed and pcscd running?)"
                ) from None
            except RuntimeError as e:
                raise errors.ServiceUnavailable(str(e)) from None
        if control_port is not None:
            try:
                control = ControlServer(bench, events, control_port).start()
            except OSError as e:
                raise errors.ServiceUnavailable(
                    f"cannot listen on 127.0.0.1:{control_port}: {e.strerror}"
                ) from None
        bench.emit(
            "ready",
            readers=readers,
            pcscd="private" if daemon else "system",
            socket=daemon.sock_path if daemon else None,
            control=control.port if control else None,
        )
        try:
            for step in steps:
                bench.run_step(step, scenario.base if scenario else None)
            if control is not None:
                while not control.stopped.is_set():
                    control.stopped.wait(0.2)
            elif scenario is None:  # cards on a private pcscd: they stay until Ctrl-C or SIGTERM
                while not stop.is_set():
                    stop.wait(0.2)
        except (ScenarioFailed, TimeoutError) as e:
            message = e.message if isinstance(e, ScenarioFailed) else str(e)
            bench.emit("error", message=message)
            print(f"error: {message} / 测试场景步骤无法执行", file=sys.stderr)
            code = ExitCode.FAILURE
    except _Stopped:  # SIGTERM: a normal end (exit 0); Ctrl-C goes on to main (exit 130)
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if control is not None:
                control.close()
            bench.close()
            bench.emit("done")
        finally:
            if presence is not None:
                presence.close()
            if daemon is not None:
                daemon.stop()
            signal.signal(signal.SIGTERM, previous)
    return code
