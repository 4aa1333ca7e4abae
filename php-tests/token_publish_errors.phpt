--TEST--
herald_token(): a bad array of claims throws (mixed keys, unknown claim, a claim that is not a list, empty or bad entries)
--EXTENSIONS--
herald
--INI--
herald.secret=0123456789abcdef-test-secret
--FILE--
<?php
$cases = [
    [['publish' => ['a'], 0 => 'b']],
    [['b', 'publish' => ['a']]],
    [['publsh' => ['a']]],
    [['publish' => ['a'], str_repeat('k', 65) => ['b']]],
    [['publish' => 'news']],
    [['channels' => null]],
    [['publish' => []]],
    [['publish' => ['a'], 'channels' => []]],
    [['publish' => ['a b']]],
    [['publish' => [1]]],
    [['channels' => ['a*b']]],
    [['publish' => array_fill(0, 257, 'a')]],
    [['publish' => ['a']], 0],
];
foreach ($cases as $args) {
    try {
        herald_token(...$args);
        echo "no exception\n";
    } catch (\Throwable $e) {
        echo get_class($e), ': ', $e->getMessage(), "\n";
    }
}
var_dump(strlen(herald_token(['publish' => array_fill(0, 256, 'a'), 'channels' => array_fill(0, 256, 'b')])) > 0);
?>
--EXPECT--
ValueError: herald_token(): Argument #1 ($channels) must be a list of channels or an array of claims ('channels', 'publish'), not both
ValueError: herald_token(): Argument #1 ($channels) must be a list of channels or an array of claims ('channels', 'publish'), not both
ValueError: herald_token(): Argument #1 ($channels) has an unknown claim "publsh" (claims are 'channels' and 'publish')
ValueError: herald_token(): Argument #1 ($channels) has an unknown claim "(a long string)" (claims are 'channels' and 'publish')
TypeError: herald_token(): Argument #1 ($channels) ['publish'] must be of type array, string given
TypeError: herald_token(): Argument #1 ($channels) ['channels'] must be of type array, null given
ValueError: herald_token(): Argument #1 ($channels) ['publish'] must contain 1 to 256 channel names or patterns
ValueError: herald_token(): Argument #1 ($channels) ['channels'] must contain 1 to 256 channel names or patterns
ValueError: herald_token(): Argument #1 ($channels) ['publish'] contains "a b", which is neither a channel name nor a prefix followed by *
TypeError: herald_token(): Argument #1 ($channels) ['publish'] must contain only strings, int given
ValueError: herald_token(): Argument #1 ($channels) ['channels'] contains "a*b", which is neither a channel name nor a prefix followed by *
ValueError: herald_token(): Argument #1 ($channels) ['publish'] must contain 1 to 256 channel names or patterns
ValueError: herald_token(): Argument #2 ($ttl) must be between 1 and 31622400 seconds
bool(true)
