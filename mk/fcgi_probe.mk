# mk/fcgi_probe.mk: the one e2e helper that links the relay's own modules.
# tests/e2e/fcgi_pool.test.mjs runs build/tests/fcgi_probe, the relay's
# FastCGI pool on a loop of its own against a real php-fpm. Built with ASan
# and UBSan (the unit tests' objects), so the e2e run also checks the
# pool's memory. This explicit rule wins over the pattern rule that builds
# the other helpers from tests/e2e/helpers/*.c alone.
$(BUILD)/tests/fcgi_probe: tests/e2e/helpers/fcgi_probe.c $(ASAN_LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O1 -g $(SAN) $(HR_CFLAGS) -o $@ $< $(ASAN_LIB_OBJ) $(PKG_LIBS) -lm
