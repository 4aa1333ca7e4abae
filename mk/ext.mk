# mk/ext.mk: the PHP extension herald, included by the top-level Makefile.
#   make ext       build build/herald.so (out of tree: phpize runs in build/ext/)
#   make arginfo   regenerate ext/herald_arginfo.h from ext/herald.stub.php
#   make test-php  the PHPT suite and the packaging checks (tests/suites/30-php.sh)
# phpize writes a Makefile, configure and friends into the folder it runs in,
# so config.m4 and ext/ are copied to build/ext/ and built there; the checkout
# itself is never touched. Warnings are errors here, not for pecl users.

PHPIZE      ?= phpize
PHP_CONFIG  ?= php-config
PHP         ?= php
EXT_CFLAGS  ?= -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter
EXT_BUILD   := $(BUILD)/ext
EXT_SOURCES := $(wildcard ext/*.c ext/*.h) ext/Makefile.frag
EXT_ABI     := abi/herald_ring_abi.h

.PHONY: ext arginfo test-php

ext: $(BUILD)/herald.so

# phpize + configure only when config.m4 changes; sources are synced each time.
$(EXT_BUILD)/Makefile: config.m4
	@rm -rf $(EXT_BUILD)
	@mkdir -p $(EXT_BUILD)/ext
	cp config.m4 $(EXT_BUILD)/
	cd $(EXT_BUILD) && $(PHPIZE) >phpize.log 2>&1 || { cat phpize.log; exit 1; }
	cd $(EXT_BUILD) && ./configure --enable-herald --with-php-config=$(PHP_CONFIG) \
		CFLAGS="$(EXT_CFLAGS)" >configure.log 2>&1 || { cat configure.log; exit 1; }

$(BUILD)/herald.so: $(EXT_BUILD)/Makefile $(EXT_SOURCES) $(EXT_ABI)
	cp -p $(EXT_SOURCES) $(EXT_BUILD)/ext/
	@mkdir -p $(EXT_BUILD)/abi && cp -p $(EXT_ABI) $(EXT_BUILD)/abi/
	$(MAKE) --no-print-directory -C $(EXT_BUILD) >$(EXT_BUILD)/make.log 2>&1 || { cat $(EXT_BUILD)/make.log; exit 1; }
	cp $(EXT_BUILD)/modules/herald.so $@

# gen_stub.php wants nikic/php-parser 4.x in a folder beside itself and would
# download it; Debian's php-parser package has it, so gen_stub.php runs from a
# copy in build/ with that folder linked to /usr/share/php/PhpParser.
PHP_BUILD_DIR ?= $(shell $(PHP_CONFIG) --extension-dir 2>/dev/null)/build
PHP_PARSER_DIR ?= /usr/share/php/PhpParser
GEN_STUB_DIR := $(BUILD)/gen_stub
arginfo:
	@test -f $(PHP_BUILD_DIR)/gen_stub.php || { echo "no gen_stub.php in $(PHP_BUILD_DIR) (php8.2-dev)"; exit 1; }
	@test -d $(PHP_PARSER_DIR) || { echo "no nikic/php-parser in $(PHP_PARSER_DIR): apt-get install php-parser"; exit 1; }
	@mkdir -p $(GEN_STUB_DIR)
	cp $(PHP_BUILD_DIR)/gen_stub.php $(GEN_STUB_DIR)/gen_stub.php
	@v=$$(sed -n 's/^ *\$$version = "\([0-9.]*\)";/\1/p' $(GEN_STUB_DIR)/gen_stub.php | head -n 1); \
		mkdir -p $(GEN_STUB_DIR)/PHP-Parser-$$v/lib && \
		ln -sfn $(PHP_PARSER_DIR) $(GEN_STUB_DIR)/PHP-Parser-$$v/lib/PhpParser
	$(PHP) $(GEN_STUB_DIR)/gen_stub.php -f ext/herald.stub.php

test-php: ext
	@bash tests/suites/30-php.sh
