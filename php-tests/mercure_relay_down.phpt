--TEST--
herald_mercure_publish(), relay down: false and herald_last_error(), no warning (herald.warnings=0); the next call after the relay is back returns the id
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_mercure_relay_down.sock
herald.timeout_ms=200
--FILE--
<?php
require __DIR__ . '/inc/fake_relay.inc';
$path = ini_get('herald.socket');
@unlink($path);
$dir = dirname($path);
/* No warning reaches the handler: an outage is false and herald_last_error(). */
$handler = function ($no, $msg) { echo "error handler: $msg\n"; return true; };
set_error_handler($handler);

var_dump(herald_mercure_publish('https://example.com/a', 'x'));
echo str_replace($dir, 'DIR', herald_last_error()), "\n";
var_dump(herald_mercure_publish(['https://example.com/a'], 'x', true, 'given-id'));
echo str_replace($dir, 'DIR', herald_last_error()), "\n";

restore_error_handler();
$srv = fake_relay_listen($path);
set_error_handler($handler);
var_dump(herald_mercure_publish('https://example.com/a', 'up', false, 'id-up'), herald_last_error());
$c = fake_relay_accept($srv);
fake_relay_read_frame($c);
echo fake_relay_read_frame($c)['frame']['data'], "\n";
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_mercure_relay_down.sock'); ?>
--EXPECT--
bool(false)
cannot connect to DIR/herald_mercure_relay_down.sock: No such file or directory
bool(false)
cannot connect to DIR/herald_mercure_relay_down.sock: No such file or directory
string(5) "id-up"
NULL
up
