"""The process that runs untrusted code (stdlib only; it must not import rlvr_bench): ``main``.

A run starts either forked from the fork server (``_sandbox_server.serve``, driven by _forkserver.py: the
default; its ``_runner`` turns the fork into a clean child, then calls ``main``) or as a fresh ``python -I
-S -B -c BOOT _sandbox_child.py RESULT_FD SPEC_PATH`` where BOOT (sandbox.py) installs the child's modules
(``CHILD_MODULES``, precompiled and marshalled into the spec) in ``sys.modules`` under their bare names and
calls this module's ``main``. The modules:

* _sandbox_isolation.py: namespaces, read-only filesystem, rlimits, uid drop, audit hook, blocked modules;
* _sandbox_harness.py: load the program, run each test (one function per test kind, ``TEST_KINDS``), with
  _sandbox_values.py (plain data, comparisons), _sandbox_stdio.py (the stdin/stdout kind, per-test time
  limits) and _sandbox_evalplus.py (the EvalPlus kind);
* _sandbox_protocol.py: the ``NONCE<TAB>{json}`` result lines (encoder here, decoder in the parent);
* this module: the order of the steps; _sandbox_server.py: the fork server (not loaded in a spawned run).

Steps of ``main``:

1. read the spec (program, tests, limits, nonce; ``marshal`` format) written by the parent, then delete it;
2. as root: new mount, network and PID namespaces (a forked run is PID 1 of its new PID namespace from
   the start; a spawned one forks once more) so that when the program dies the kernel kills everything
   it started; a fresh /proc; a private size-limited tmpfs as the sandbox directory; every other mount
   read-only; standard-library directories the unprivileged uid could not reach (e.g. Python installed
   under a 0700 ``/root``) bind-mounted read-only next to the sandbox directory; then drop to an
   unprivileged, unique uid. Not root: none of this;
3. resource limits (CPU seconds, address space, file size, processes, open files, no core files);
4. an audit hook (PEP 578) refusing process creation, signals, sockets, ctypes, writes outside the
   sandbox directory and reads of other processes' /proc entries (the modules only the harness needed,
   ctypes and socket, and the sandbox's own modules are first dropped from ``sys.modules``);
5. load the program and run each test, reporting ``NONCE<TAB>{json}`` lines on RESULT_FD as it goes.
"""

from __future__ import annotations

import marshal
import os
import sys

if __package__:  # imported in the parent, as part of rlvr_bench.rewards
    from . import _sandbox_harness as harness
    from . import _sandbox_isolation as isolation
    from . import _sandbox_protocol as protocol
else:  # in the sandbox child: the boot code installed them under their bare names (or run as a script)
    import _sandbox_harness as harness
    import _sandbox_isolation as isolation
    import _sandbox_protocol as protocol

__all__ = ["CHILD_MODULES", "OWN_MODULES", "SERVER_MODULE", "main"]

#: The modules of a run, in the order they are installed (each imports only the ones before it).
CHILD_MODULES = ("_sandbox_protocol", "_sandbox_values", "_sandbox_stdio", "_sandbox_evalplus", "_sandbox_harness",
                 "_sandbox_isolation", "_sandbox_child")
#: The fork server's module, loaded after CHILD_MODULES by the server only.
SERVER_MODULE = "_sandbox_server"
#: Dropped from ``sys.modules`` before the program runs: a program imports none of them.
OWN_MODULES = (*CHILD_MODULES, SERVER_MODULE)


def main(argv: list[str], spec: dict | None = None) -> int:
    """Run one sandboxed program and its tests (the steps of the module docstring); never returns."""
    result_fd, spec_path = int(argv[0]), argv[1]
    if spec is None:  # run as a script: read the spec here (else the boot code already did)
        with open(spec_path, "rb") as f:
            spec = marshal.loads(f.read())[1]  # (the child's modules, the spec)
    os.remove(spec_path)
    spec["result_fd"] = result_fd
    as_root = os.geteuid() == 0 and spec["uid"] is not None
    layers: list[str] = []
    if as_root:
        isolation.enter_namespaces(spec, layers)
    isolation.enter_workdir(spec, as_root)
    isolation.set_limits(spec, layers, as_root)
    if as_root:
        isolation.drop_privileges(spec["uid"], layers)
    out = os.fdopen(result_fd, "w")
    emit = protocol.emitter(out, spec.pop("nonce"))
    isolation.forget(isolation.SERVER_MODULES)
    isolation.forget(OWN_MODULES)
    if spec["audit"]:
        isolation.install_audit_hook(os.getcwd(), layers)
    emit({"event": "start", "isolation": ",".join(layers)})
    try:
        harness.run_tests(spec, emit)
        emit({"event": "done"})
    except BaseException:
        os._exit(70)
        os._exit(70)
    for stream in (sys.stdout, sys.stderr):  # what the program printed, for CodeResult.output_tail
        try:
            stream.flush()
        except BaseException:
            pass
    # skip interpreter shutdown: the program's atexit handlers and threads must not delay or fake the end
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
