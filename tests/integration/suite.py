"""Check registry: test modules declare checks here, and run.py runs them.

A check registered with Module.both runs twice, once as plain CGI ("cgi: "
prefix) and once through lighttpd and FastCGI with curl ("fcgi: " prefix).
The check function receives the transport and the module's context.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from harness import CgiTransport, CheckFailed, LighttpdServer, seed_world


@dataclass
class Check:
    name: str
    function: object
    mode: str  # "cgi", "fcgi" or "plain" (the function takes only the context)


class Module:
    """Checks that share one lighttpd configuration and one database."""

    def __init__(self, title, env=None, procs=2, own_database=False):
        self.title = title
        # Settings for both modes: the CGI environment and lighttpd's environment.
        self.env = dict(env or {})
        self.procs = procs
        self.own_database = own_database
        self.checks = []

    def both(self, name):
        def register(function):
            self.checks.append(Check(f"cgi: {name}", function, "cgi"))
            self.checks.append(Check(f"fcgi: {name}", function, "fcgi"))
            return function
        return register

    def cgi(self, name):
        def register(function):
            self.checks.append(Check(f"cgi: {name}", function, "cgi"))
            return function
        return register

    def fcgi(self, name):
        def register(function):
            self.checks.append(Check(f"fcgi: {name}", function, "fcgi"))
            return function
        return register

    def plain(self, name):
        def register(function):
            self.checks.append(Check(name, function, "plain"))
            return function
        return register


class ModuleContext:
    """What a check can use: the database, the binary and the module's server."""

    def __init__(self, module, database, binary, root):
        self.module = module
        self.db = database
        self.binary = binary
        self.root = root
        self.server = None

    def world(self, **webhook_options):
        return seed_world(self.db, **webhook_options)

    def cgi(self, env=None):
        merged = dict(self.module.env)
        merged.update(env or {})
        return CgiTransport(self.binary, self.db.url, merged)

    def new_server(self, env=None, procs=None, bind="127.0.0.1", label=None):
        """Return an unstarted lighttpd with the module's settings plus env, for a with statement."""
        merged = dict(self.module.env)
        merged.update(env or {})
        return LighttpdServer(self.root, self.binary, self.db.url, merged,
                              procs or self.module.procs, bind, label or self.module.title)

    @contextmanager
    def variant(self, transport, env, procs=None, bind="127.0.0.1"):
        """Yield a transport of transport's mode whose program also receives env.

        In CGI mode that is another environment. In FastCGI mode it is a
        separate lighttpd, which is stopped and checked when the block ends."""
        if transport.mode == "cgi":
            yield self.cgi(env)
            return
        server = self.new_server(env, procs, bind, label=f"{self.module.title} variant")
        try:
            server.start()
        except Exception:
            server.stop()
            raise
        failed = True
        try:
            yield server
            failed = False
        finally:
            problems = server.stop()
        if problems and not failed:
            raise CheckFailed("; ".join(problems))

    def transport(self, mode):
        if mode == "cgi":
            return self.cgi()
        if self.server is None:
            server = self.new_server()
            try:
                server.start()
            except Exception:
                server.stop()
                raise
            self.server = server
        return self.server

    def close(self):
        """Stop the module's server and return the problems found, or None when no server ran."""
        if self.server is None:
            return None
        server, self.server = self.server, None
        return server.stop()
