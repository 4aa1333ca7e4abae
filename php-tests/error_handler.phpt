--TEST--
With herald.warnings=1, the E_WARNING of a failed call goes through user error handlers, which may publish again or throw
--EXTENSIONS--
herald
--INI--
herald.socket={TMP}/herald_error_handler.sock
herald.warnings=1
--FILE--
<?php
@unlink(ini_get('herald.socket'));
set_error_handler(function ($no, $str) {
    static $depth = 0;
    echo "handler: ", preg_replace('/ \S+herald_error_handler.sock/', ' PATH', $str), "\n";
    if ($depth++ === 0) {
        /* Fails too; PHP does not re-enter a running handler, so this
         * warning is displayed instead. */
        var_dump(ws_publish('nested', 'x'));
    }
    return true;
});
var_dump(sse_emit('a', 'b'));
echo preg_replace('/ \S+herald_error_handler.sock/', ' PATH', herald_last_error()), "\n";

set_error_handler(function ($no, $str) {
    throw new ErrorException($str, 0, $no);
});
try {
    sse_emit('a', 'b');
} catch (ErrorException $e) {
    echo get_class($e), ': ', preg_replace('/ \S+herald_error_handler.sock/', ' PATH', $e->getMessage()), "\n";
}
?>
--CLEAN--
<?php @unlink(sys_get_temp_dir() . '/herald_error_handler.sock'); ?>
--EXPECTF--
handler: sse_emit(): cannot connect to PATH: No such file or directory

Warning: ws_publish(): cannot connect to %sherald_error_handler.sock: No such file or directory in %s on line %d
bool(false)
bool(false)
cannot connect to PATH: No such file or directory
ErrorException: sse_emit(): cannot connect to PATH: No such file or directory
