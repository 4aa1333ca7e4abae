# ext/Makefile.frag: added to the Makefile phpize makes (config.m4). The PHPT
# tests live in php-tests/, so `make test` in a checkout or an unpacked pecl
# tarball runs them (TESTS=... on the command line still picks others). The
# tests that need the relay itself look for build/herald-relay under
# HERALD_SOURCE_DIR, and are skipped without it.
TESTS = $(top_srcdir)/php-tests
