--TEST--
Reflection: the signatures are those of Contract 3
--EXTENSIONS--
herald
--FILE--
<?php
foreach (['sse_emit', 'ws_publish', 'herald_last_error', 'herald_flush'] as $fn) {
    $f = new ReflectionFunction($fn);
    $params = array_map(function (ReflectionParameter $p) {
        $s = $p->getType() . ' $' . $p->getName();
        if ($p->isDefaultValueAvailable()) {
            $s .= ' = ' . strtolower(var_export($p->getDefaultValue(), true));
        }
        return $s;
    }, $f->getParameters());
    echo "function $fn(", implode(', ', $params), '): ', $f->getReturnType(), ";\n";
}
var_dump((new ReflectionExtension('herald'))->getVersion() === phpversion('herald'));
?>
--EXPECT--
function sse_emit(array|string $channel, mixed $data, ?string $event = null, ?int $retry = null): bool;
function ws_publish(array|string $channel, mixed $data, bool $binary = false): bool;
function herald_last_error(): ?string;
function herald_flush(): bool;
bool(true)
