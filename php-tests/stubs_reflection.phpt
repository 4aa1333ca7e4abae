--TEST--
The composer stubs (packages/herald-stubs/stubs/herald.php) and ext/herald.stub.php agree with the loaded extension's Reflection
--EXTENSIONS--
herald
--SKIPIF--
<?php
$root = getenv('HERALD_SOURCE_DIR') ?: __DIR__ . '/..';
if (!is_file("$root/packages/herald-stubs/stubs/herald.php")) die('skip packages/herald-stubs/stubs/herald.php not found (set HERALD_SOURCE_DIR)');
?>
--FILE--
<?php
$root = getenv('HERALD_SOURCE_DIR') ?: __DIR__ . '/..';

/* Declare a stub file's functions in a namespace of their own: the
 * extension already has the global names. */
function load_stubs(string $file, string $ns): array
{
    $code = file_get_contents($file);
    $code = preg_replace('/^<\?php/', "namespace $ns;", $code, 1, $n);
    if ($n !== 1) {
        throw new RuntimeException("$file does not start with <?php");
    }
    $before = get_defined_functions()['user'];
    eval($code);
    return array_map(fn ($f) => substr($f, strlen($ns) + 1),
        array_values(array_diff(get_defined_functions()['user'], $before)));
}

function describe(ReflectionFunction $f): string
{
    $params = [];
    foreach ($f->getParameters() as $p) {
        $params[] = sprintf('%s%s%s$%s%s', $p->getType() ? $p->getType() . ' ' : '',
            $p->isPassedByReference() ? '&' : '', $p->isVariadic() ? '...' : '', $p->getName(),
            $p->isOptional() ? ' = ' . strtolower(var_export($p->getDefaultValue(), true)) : '');
    }
    return sprintf('%s(%s): %s', $f->getShortName(), implode(', ', $params), $f->getReturnType());
}

$ext = get_extension_funcs('herald');
sort($ext);
foreach (['packages/herald-stubs/stubs/herald.php' => 'ComposerStubs', 'ext/herald.stub.php' => 'GenStub'] as $file => $ns) {
    if (!is_file("$root/$file")) {
        echo "$file: missing\n";
        continue;
    }
    $declared = load_stubs("$root/$file", $ns);
    sort($declared);
    $same = $declared === $ext;
    foreach ($ext as $fn) {
        $want = describe(new ReflectionFunction($fn));
        $have = function_exists("$ns\\$fn") ? describe(new ReflectionFunction("$ns\\$fn")) : 'missing';
        if ($want !== $have) {
            echo "$file: $fn differs\n  extension: $want\n  stub:      $have\n";
            $same = false;
        }
    }
    echo "$file: ", $same ? 'agrees' : 'DIFFERS', ' (', implode(', ', $declared), ")\n";
}
?>
--EXPECT--
packages/herald-stubs/stubs/herald.php: agrees (herald_flush, herald_hook_events, herald_last_error, herald_mercure_channel, herald_mercure_publish, herald_presence, herald_publish, herald_send, herald_send_user, herald_token, sse_emit, ws_publish)
ext/herald.stub.php: agrees (herald_flush, herald_hook_events, herald_last_error, herald_mercure_channel, herald_mercure_publish, herald_presence, herald_publish, herald_send, herald_send_user, herald_token, sse_emit, ws_publish)
