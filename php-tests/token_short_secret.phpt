--TEST--
herald_token(): a herald.secret under 16 bytes is refused like the relay refuses it
--EXTENSIONS--
herald
--INI--
herald.secret=fifteen-bytes-x
--FILE--
<?php
try {
    herald_token(['private-a']);
} catch (Error $e) {
    echo $e->getMessage(), "\n";
}
?>
--EXPECT--
herald_token(): herald.secret must be set to at least 16 bytes (the relay's secret)
