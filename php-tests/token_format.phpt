--TEST--
herald_token(): an HS256 JWT over herald.secret with channels, iat and exp
--EXTENSIONS--
herald
--INI--
herald.secret=0123456789abcdef-test-secret
--FILE--
<?php
function b64url_decode(string $s): string { return base64_decode(strtr($s, '-_', '+/'), true); }
function check(string $t, string $secret): array {
    $parts = explode('.', $t);
    echo count($parts), " parts, ", preg_match('/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/', $t) ? "base64url" : "NOT base64url", "\n";
    [$h, $p, $s] = $parts;
    $mac = rtrim(strtr(base64_encode(hash_hmac('sha256', "$h.$p", $secret, true)), '+/', '-_'), '=');
    echo "signature ", hash_equals($mac, $s) ? "matches" : "DIFFERS", "\n";
    echo b64url_decode($h), "\n";
    return json_decode(b64url_decode($p), true, 4, JSON_THROW_ON_ERROR);
}
$before = time();
$c = check(herald_token(['private-a', 'team-*', '*']), ini_get('herald.secret'));
var_dump($c['channels'], $c['exp'] - $c['iat'], $c['iat'] >= $before && $c['iat'] <= time());
$c = check(herald_token(['a'], 5), ini_get('herald.secret'));
var_dump($c['exp'] - $c['iat']);
// Channel names use the whole alphabet of Contract 1.
$c = check(herald_token(['Az09_.:@=/-', str_repeat('x', 200), str_repeat('y', 200) . '*']), ini_get('herald.secret'));
var_dump(array_map('strlen', $c['channels']));
?>
--EXPECT--
3 parts, base64url
signature matches
{"alg":"HS256","typ":"JWT"}
array(3) {
  [0]=>
  string(9) "private-a"
  [1]=>
  string(6) "team-*"
  [2]=>
  string(1) "*"
}
int(3600)
bool(true)
3 parts, base64url
signature matches
{"alg":"HS256","typ":"JWT"}
int(5)
3 parts, base64url
signature matches
{"alg":"HS256","typ":"JWT"}
array(3) {
  [0]=>
  int(11)
  [1]=>
  int(200)
  [2]=>
  int(201)
}
