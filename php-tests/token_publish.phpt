--TEST--
herald_token(): an array of claims mints a publish token ('publish'), a subscription token ('channels') or both; a list is the channels, as always
--EXTENSIONS--
herald
--INI--
herald.secret=0123456789abcdef-test-secret
--FILE--
<?php
function claims_of(string $t): string {
    [$h, $p, $s] = explode('.', $t);
    $mac = rtrim(strtr(base64_encode(hash_hmac('sha256', "$h.$p", ini_get('herald.secret'), true)), '+/', '-_'), '=');
    if (!hash_equals($mac, $s)) {
        return 'BAD SIGNATURE';
    }
    $json = base64_decode(strtr($p, '-_', '+/'), true);
    // iat and exp vary: show them as the ttl they make.
    $c = json_decode($json, true);
    return preg_replace('/"iat":\d+,"exp":\d+/', '"iat":…,"exp":iat+' . ($c['exp'] - $c['iat']), $json);
}
echo claims_of(herald_token(['publish' => ['news', 'chat.*']], 60)), "\n";
echo claims_of(herald_token(['channels' => ['private-a'], 'publish' => ['*']])), "\n";
// Claims come out in one order, whatever order they were given in.
echo claims_of(herald_token(['publish' => ['a'], 'channels' => ['b']], 5)), "\n";
echo claims_of(herald_token(['channels' => ['private-a', 'team-*']])), "\n";
// A list is what it always was: the channels, byte for byte as before.
echo claims_of(herald_token(['private-a', 'team-*'])), "\n";
echo claims_of(herald_token([3 => 'x', 7 => 'y'])), "\n";
?>
--EXPECT--
{"publish":["news","chat.*"],"iat":…,"exp":iat+60}
{"channels":["private-a"],"publish":["*"],"iat":…,"exp":iat+3600}
{"channels":["b"],"publish":["a"],"iat":…,"exp":iat+5}
{"channels":["private-a","team-*"],"iat":…,"exp":iat+3600}
{"channels":["private-a","team-*"],"iat":…,"exp":iat+3600}
{"channels":["x","y"],"iat":…,"exp":iat+3600}
