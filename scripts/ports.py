"""Free ports on 127.0.0.1 and servers run as child processes, for the
scripts, the bench and the tests (never a fixed port: other runs share the
machine)."""
import signal
import socket
import subprocess  # nosec B404 - only waits for and signals processes the caller started


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def interrupt(process: subprocess.Popen, timeout: float) -> None:
    """Stop `process` as Ctrl-C does (a server saves its state on the way
    out), killing it if it has not stopped within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
