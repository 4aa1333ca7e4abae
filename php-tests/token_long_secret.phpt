--TEST--
herald_token(): a secret longer than SHA-256's block is hashed first (RFC 2104), as hash_hmac() does
--EXTENSIONS--
herald
--INI--
herald.secret=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-long
--FILE--
<?php
[$h, $p, $s] = explode('.', herald_token(['private-x']));
$mac = rtrim(strtr(base64_encode(hash_hmac('sha256', "$h.$p", ini_get('herald.secret'), true)), '+/', '-_'), '=');
var_dump(strlen(ini_get('herald.secret')) > 64, hash_equals($mac, $s));
?>
--EXPECT--
bool(true)
bool(true)
