--TEST--
herald_token(): without herald.secret (or with one under 16 bytes) it throws Error and mints nothing
--EXTENSIONS--
herald
--FILE--
<?php
try {
    herald_token(['private-a']);
} catch (Error $e) {
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
?>
--EXPECT--
Error: herald_token(): herald.secret must be set to at least 16 bytes (the relay's secret)
