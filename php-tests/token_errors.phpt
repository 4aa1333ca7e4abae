--TEST--
herald_token(): bad channels, ttl or secret throw; herald.secret cannot be changed at run time and phpinfo() masks it
--EXTENSIONS--
herald
--INI--
herald.secret=0123456789abcdef-test-secret
--FILE--
<?php
$cases = [
    [[]], [['']], [['a b']], [["a\n"]], [['a*b']], [['**']], [[str_repeat('x', 201)]], [[1]],
    [[['a']]], [array_fill(0, 257, 'a')], [['a'], 0], [['a'], -1], [['a'], 86400 * 366 + 1],
];
foreach ($cases as $args) {
    try {
        herald_token(...$args);
        echo "no exception\n";
    } catch (\Throwable $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}
var_dump(strlen(herald_token(array_fill(0, 256, 'a'), 86400 * 366)) > 0);
var_dump(ini_set('herald.secret', 'something-else-entirely'));
var_dump(ini_get('herald.secret'));
ob_start();
phpinfo(INFO_MODULES);
$info = ob_get_clean();
preg_match('/^herald\.secret => (.*)$/m', $info, $m);
var_dump($m[1], str_contains($info, '0123456789abcdef-test-secret'));
?>
--EXPECT--
ValueError: herald_token(): Argument #1 ($channels) must contain 1 to 256 channel names or patterns
ValueError: herald_token(): Argument #1 ($channels) contains "", which is neither a channel name nor a prefix followed by *
ValueError: herald_token(): Argument #1 ($channels) contains "a b", which is neither a channel name nor a prefix followed by *
ValueError: herald_token(): Argument #1 ($channels) contains "a
", which is neither a channel name nor a prefix followed by *
ValueError: herald_token(): Argument #1 ($channels) contains "a*b", which is neither a channel name nor a prefix followed by *
ValueError: herald_token(): Argument #1 ($channels) contains "**", which is neither a channel name nor a prefix followed by *
ValueError: herald_token(): Argument #1 ($channels) contains "(a long string)", which is neither a channel name nor a prefix followed by *
TypeError: herald_token(): Argument #1 ($channels) must contain only strings, int given
TypeError: herald_token(): Argument #1 ($channels) must contain only strings, array given
ValueError: herald_token(): Argument #1 ($channels) must contain 1 to 256 channel names or patterns
ValueError: herald_token(): Argument #2 ($ttl) must be between 1 and 31622400 seconds
ValueError: herald_token(): Argument #2 ($ttl) must be between 1 and 31622400 seconds
ValueError: herald_token(): Argument #2 ($ttl) must be between 1 and 31622400 seconds
bool(true)
bool(false)
string(28) "0123456789abcdef-test-secret"
string(20) "******** => ********"
bool(false)
