--TEST--
phpinfo() says what is at herald.socket: nothing there, not a socket, or a socket this user may write to (a wrong setup shows before a publish fails)
--EXTENSIONS--
herald
--INI--
herald.socket=/nonexistent/herald.sock
--FILE--
<?php
function socket_row(): string
{
    ob_start();
    phpinfo(INFO_MODULES);
    preg_match('/^Socket in use \(herald\.socket\) => (.*)$/m', ob_get_clean(), $m);
    return $m[1] ?? '(no row)';
}
echo socket_row(), "\n";
$dir = sys_get_temp_dir() . '/herald-info-' . getmypid();
@mkdir($dir);
touch("$dir/file");
ini_set('herald.socket', "$dir/file");
echo str_replace($dir, 'DIR', socket_row()), "\n";
$server = stream_socket_server("unix://$dir/s.sock");
ini_set('herald.socket', "$dir/s.sock");
echo str_replace($dir, 'DIR', socket_row()), "\n";
fclose($server);
@unlink("$dir/s.sock");
unlink("$dir/file");
rmdir($dir);
?>
--EXPECT--
/nonexistent/herald.sock: No such file or directory (is the relay running, and is this its socket?)
DIR/file: not a socket
DIR/s.sock: a socket this user may write to
