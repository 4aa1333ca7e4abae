--TEST--
herald.socket longer than a Unix socket path holds, set in php.ini: kept (not silently replaced by the default), and every publish and phpinfo() say what is wrong
--EXTENSIONS--
herald
--INI--
herald.socket=/tmp/a-socket-path-far-too-long-for-sun-path-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock
--FILE--
<?php
echo strlen(ini_get('herald.socket')), "\n";
var_dump(sse_emit('news', 'x'));
echo herald_last_error(), "\n";
ob_start();
phpinfo(INFO_MODULES);
preg_match('/^Socket in use \(herald\.socket\) => (.*)$/m', ob_get_clean(), $m);
echo $m[1], "\n";
// ini_set() is refused, so its caller sees false and the value stays.
var_dump(ini_set('herald.socket', '/' . str_repeat('s', 200)));
var_dump(ini_set('herald.socket', ''));
echo strlen(ini_get('herald.socket')), "\n";
?>
--EXPECT--
130
bool(false)
herald.socket is 130 bytes long, and a Unix socket path holds at most 107: give the relay (--socket) and PHP a shorter one
herald.socket is 130 bytes long, and a Unix socket path holds at most 107: give the relay (--socket) and PHP a shorter one
bool(false)
bool(false)
130
