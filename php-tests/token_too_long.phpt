--TEST--
herald_token() never mints a token the relay refuses (longer than its 4096 bytes): it throws ValueError instead; the longest token it mints is at most 4096 bytes
--EXTENSIONS--
herald
--INI--
herald.secret=0123456789abcdef-test-secret
--FILE--
<?php
/* 256 names of 200 bytes: some 70 KB of claims. */
try {
    herald_token(array_map(fn ($i) => sprintf('%03d', $i) . str_repeat('c', 197), range(1, 256)));
    echo "no exception\n";
} catch (ValueError $e) {
    echo get_class($e), ': ', preg_replace('/ \d+ bytes/', ' N bytes', $e->getMessage(), 1), "\n";
}

/* Around the limit: channel lists of growing size, one byte at a time. The
 * first that throws comes right after a token of at most 4096 bytes, and
 * every token minted before it was at most 4096 bytes too. */
$longest = 0;
for ($n = 1; $n < 4000; $n++) {
    $channels = str_split(str_repeat('x', $n * 5), 200);
    try {
        $t = herald_token($channels, 600);
    } catch (ValueError $e) {
        break;
    }
    if (strlen($t) > 4096) {
        echo "minted a token of ", strlen($t), " bytes\n";
    }
    $longest = max($longest, strlen($t));
}
var_dump($n < 4000, $longest <= 4096, $longest > 4096 - 20);
?>
--EXPECT--
ValueError: herald_token(): Argument #1 ($channels) makes a token of N bytes, more than the 4096 the relay accepts (name fewer or shorter channels, or a prefix followed by *)
bool(true)
bool(true)
bool(true)
