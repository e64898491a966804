# tests/taplib.py: the TAP output of the Python tests. check() records a
# result; finish() prints them as TAP, with each detail as "# " lines (for
# failures only, or for every result with always=True, for tests whose
# details are measurements), and exits 1 if any failed.
import os
import sys

results = []


def check(name, condition, detail=""):
    results.append((name, bool(condition), detail))


def finish(always=False):
    for i, (name, good, detail) in enumerate(results, 1):
        print(f"{'ok' if good else 'not ok'} {i} - {name}")
        if detail and (always or not good):
            for line in str(detail).splitlines():
                print(f"# {line}")
    print(f"1..{len(results)}")
    sys.exit(0 if all(good for _, good, _ in results) else 1)


def skip(reason):
    """Skips the whole test, as TAP says it."""
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


def need_cxr():
    """The Cxr and GLib modules through GObject Introspection, or a skip
    when this build has no introspection or PyGObject is missing."""
    if os.environ.get("CXRGEN_HAVE_INTROSPECTION") == "no":
        skip("built without introspection")
    try:
        import gi
        gi.require_version("Cxr", "1.0")
        from gi.repository import Cxr, GLib
    except (ImportError, ValueError) as e:
        skip(f"no PyGObject or typelib: {e}")
    return Cxr, GLib
