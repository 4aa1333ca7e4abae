--TEST--
herald_mercure_channel(): the relay's topic-to-channel encoding: channel bytes kept, others (and "=") as =XX, over 200 bytes "=S" + SHA-256 hex; every result is a valid channel name
--EXTENSIONS--
herald
--FILE--
<?php
foreach ([
    'https://example.com/books/1',
    'https://x/?a=1',
    'urn:isbn:0-486-27557-4',
    'a b=c#d%e~f',
    'é',
    "https://example.com/\u{1F600}",
    str_repeat('a', 200),
    str_repeat('a', 199) . '?',
] as $t) {
    $ch = herald_mercure_channel($t);
    printf("%s => %s\n", strlen($t) > 40 ? strlen($t) . ' bytes' : $t, strlen($ch) > 60 ? strlen($ch) . ' bytes: ' . substr($ch, 0, 10) . '...' : $ch);
}
$long = 'https://example.com/' . str_repeat('x', 280);
$ch = herald_mercure_channel($long);
var_dump(strlen($long), strlen($ch), $ch === '=S' . hash('sha256', $long));
/* Every result is a channel herald_publish() takes. */
var_dump(herald_mercure_channel("\x00\xff") , preg_match('/^[A-Za-z0-9_.:@=\/,;-]{1,200}$/', herald_mercure_channel(str_repeat("\xff", 66))));
?>
--EXPECT--
https://example.com/books/1 => https://example.com/books/1
https://x/?a=1 => https://x/=3Fa=3D1
urn:isbn:0-486-27557-4 => urn:isbn:0-486-27557-4
a b=c#d%e~f => a=20b=3Dc=23d=25e=7Ef
é => =C3=A9
https://example.com/😀 => https://example.com/=F0=9F=98=80
200 bytes => 200 bytes: aaaaaaaaaa...
200 bytes => 66 bytes: =S9a6483a5...
int(300)
int(66)
bool(true)
string(6) "=00=FF"
int(1)
