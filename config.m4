dnl SPDX-License-Identifier: MIT
dnl config.m4: build script of the PHP extension herald, at the repository
dnl root so that phpize, pecl and pie build it from a checkout or a release
dnl tarball. The sources live in ext/. The extension needs nothing but PHP
dnl itself: frames are packed by hand (see ext/herald_pack.h). The shared
dnl ingest ring (ext/herald_ring.c) needs mmap() and SCM_RIGHTS: Linux.

PHP_ARG_ENABLE([herald],
  [whether to enable herald (sse_emit, ws_publish)],
  [AS_HELP_STRING([--enable-herald], [Enable the herald extension])],
  [no])

if test "$PHP_HERALD" != "no"; then
  AC_CHECK_HEADERS([sys/un.h poll.h], [], [AC_MSG_ERROR([herald needs Unix domain sockets and poll()])])
  AC_CHECK_FUNCS([ppoll])
  PHP_NEW_EXTENSION(herald,
    ext/herald.c ext/herald_error.c ext/herald_hooks.c ext/herald_mercure.c ext/herald_pack.c ext/herald_ring.c ext/herald_sock.c ext/herald_token.c,
    $ext_shared,, -DZEND_ENABLE_STATIC_TSRMLS_CACHE=1)
  PHP_ADD_BUILD_DIR([$ext_builddir/ext])
  PHP_ADD_INCLUDE([$ext_srcdir/ext])
  dnl abi/: the ring layout the relay shares (abi/herald_ring_abi.h).
  PHP_ADD_INCLUDE([$ext_srcdir])
  PHP_ADD_EXTENSION_DEP(herald, json)
  PHP_ADD_EXTENSION_DEP(herald, spl)
  dnl make test runs php-tests/ (the PHPT files), not tests/ (the relay's).
  PHP_ADD_MAKEFILE_FRAGMENT([$ext_srcdir/ext/Makefile.frag])
fi
