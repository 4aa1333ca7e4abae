<?php
/*
 * Host metrics from /proc and alert rules for the demo publisher. Plain PHP,
 * no extension beyond the core.
 */
declare(strict_types=1);

final class HostSampler
{
    private ?array $prevCpu = null;
    private ?array $prevNet = null;
    private ?float $prevTime = null;

    public function sample(): array
    {
        $now = hrtime(true) / 1e9;
        $cpu = $this->cpuTimes();
        $net = $this->netBytes();
        $cpuPct = 0.0;
        if ($this->prevCpu !== null && $cpu !== null) {
            $total = $cpu['total'] - $this->prevCpu['total'];
            $idle = $cpu['idle'] - $this->prevCpu['idle'];
            $cpuPct = $total > 0 ? 100.0 * (1 - $idle / $total) : 0.0;
        }
        $rx = $tx = 0.0;
        if ($this->prevNet !== null && $this->prevTime !== null && $now > $this->prevTime) {
            $dt = $now - $this->prevTime;
            $rx = max(0, $net['rx'] - $this->prevNet['rx']) / $dt;
            $tx = max(0, $net['tx'] - $this->prevNet['tx']) / $dt;
        }
        $this->prevCpu = $cpu;
        $this->prevNet = $net;
        $this->prevTime = $now;

        $mem = $this->memInfo();
        $load = $this->loadAvg();
        return [
            'cpu' => round($cpuPct, 1),
            'ncpu' => $this->cpuCount(),
            'load' => $load,
            'mem' => [
                'total' => $mem['total'],
                'used' => $mem['used'],
                'pct' => $mem['total'] > 0 ? round(100.0 * $mem['used'] / $mem['total'], 1) : 0.0,
            ],
            'net' => ['rx' => (int) round($rx), 'tx' => (int) round($tx)],
            'uptime' => (int) (float) (explode(' ', (string) @file_get_contents('/proc/uptime'))[0] ?? 0),
        ];
    }

    private function cpuTimes(): ?array
    {
        $line = strtok((string) @file_get_contents('/proc/stat'), "\n");
        if ($line === false || !str_starts_with($line, 'cpu ')) {
            return null;
        }
        $v = array_map('intval', preg_split('/\s+/', trim(substr($line, 4))));
        // user nice system idle iowait irq softirq steal
        $idle = ($v[3] ?? 0) + ($v[4] ?? 0);
        $total = array_sum(array_slice($v, 0, 8));
        return ['idle' => $idle, 'total' => $total];
    }

    private function cpuCount(): int
    {
        return max(1, preg_match_all('/^processor\s*:/m', (string) @file_get_contents('/proc/cpuinfo')));
    }

    private function memInfo(): array
    {
        $m = [];
        foreach (explode("\n", (string) @file_get_contents('/proc/meminfo')) as $l) {
            if (preg_match('/^(\w+):\s+(\d+)/', $l, $mm)) {
                $m[$mm[1]] = (int) $mm[2] * 1024;
            }
        }
        $total = $m['MemTotal'] ?? 0;
        $avail = $m['MemAvailable'] ?? ($m['MemFree'] ?? 0);
        return ['total' => $total, 'used' => max(0, $total - $avail)];
    }

    private function loadAvg(): array
    {
        $p = explode(' ', (string) @file_get_contents('/proc/loadavg'));
        return [(float) ($p[0] ?? 0), (float) ($p[1] ?? 0), (float) ($p[2] ?? 0)];
    }

    private function netBytes(): array
    {
        $rx = $tx = 0;
        foreach (explode("\n", (string) @file_get_contents('/proc/net/dev')) as $l) {
            if (!preg_match('/^\s*([^:\s]+):\s*(.*)$/', $l, $m)) {
                continue;
            }
            $f = preg_split('/\s+/', trim($m[2]));
            $rx += (int) ($f[0] ?? 0);
            $tx += (int) ($f[8] ?? 0);
        }
        return ['rx' => $rx, 'tx' => $tx];
    }
}

/** An HTTP GET with a short timeout: ['ok' => bool, 'ms' => float, 'status' => int]. */
function http_check(string $url, float $timeout = 1.0): array
{
    $t = hrtime(true);
    $ctx = stream_context_create(['http' => ['timeout' => $timeout, 'ignore_errors' => true]]);
    $body = @file_get_contents($url, false, $ctx);
    $ms = round((hrtime(true) - $t) / 1e6, 1);
    $status = 0;
    foreach ($http_response_header ?? [] as $h) {
        if (preg_match('#^HTTP/\S+\s+(\d{3})#', $h, $m)) {
            $status = (int) $m[1];
        }
    }
    return ['ok' => $body !== false && $status === 200, 'ms' => $ms, 'status' => $status];
}

/**
 * Alert rules, evaluated on every sample. evaluate() returns the alerts to
 * publish: one when a rule starts firing and one when it resolves.
 */
final class AlertRules
{
    private array $firing = [];
    private array $cpuWindow = [];
    private int $cpuHighCount = 0;
    private float $lastSpike = 0;

    public function firing(): array
    {
        return array_keys($this->firing);
    }

    public function evaluate(array $m): array
    {
        $out = [];
        $ncpu = $m['ncpu'];

        // Sustained CPU: above 85 % for three samples, resolved under 75 %.
        $this->cpuHighCount = $m['cpu'] > 85 ? $this->cpuHighCount + 1 : 0;
        $this->state($out, 'cpu_high', $this->cpuHighCount >= 3, $m['cpu'] < 75, 'critical',
            sprintf('CPU at %.0f %% for 3 s', $m['cpu']), sprintf('CPU back to %.0f %%', $m['cpu']));

        // A CPU spike: well above the last minute's mean (one-shot, at most every 20 s).
        $w = $this->cpuWindow;
        if (count($w) >= 10) {
            $mean = array_sum($w) / count($w);
            $var = array_sum(array_map(fn ($x) => ($x - $mean) ** 2, $w)) / count($w);
            $limit = $mean + max(20.0, 3 * sqrt($var));
            $now = microtime(true);
            if ($m['cpu'] > $limit && $now - $this->lastSpike > 20) {
                $this->lastSpike = $now;
                $out[] = $this->alert('warning', 'cpu_spike', 'firing', sprintf(
                    'CPU spike: %.0f %% (last minute %.0f %%)', $m['cpu'], $mean), $m['cpu']);
            }
        }
        $this->cpuWindow[] = $m['cpu'];
        if (count($this->cpuWindow) > 60) {
            array_shift($this->cpuWindow);
        }

        $this->state($out, 'load_high', $m['load'][0] > $ncpu, $m['load'][0] < 0.8 * $ncpu, 'warning',
            sprintf('Load %.2f above %d CPUs', $m['load'][0], $ncpu), sprintf('Load down to %.2f', $m['load'][0]));
        $this->state($out, 'mem_high', $m['mem']['pct'] > 90, $m['mem']['pct'] < 85, 'warning',
            sprintf('Memory at %.0f %%', $m['mem']['pct']), sprintf('Memory back to %.0f %%', $m['mem']['pct']));

        foreach ($m['checks'] as $name => $c) {
            $this->state($out, "{$name}_down", !$c['ok'], $c['ok'], 'critical',
                sprintf('%s check failing (HTTP %s)', ucfirst($name), $c['status'] ?: 'no answer'),
                sprintf('%s check OK again', ucfirst($name)));
            $this->state($out, "{$name}_slow", $c['ok'] && $c['ms'] > 250, $c['ms'] < 100, 'warning',
                sprintf('%s answered in %.0f ms', ucfirst($name), $c['ms']),
                sprintf('%s latency back to %.0f ms', ucfirst($name), $c['ms']));
        }
        return $out;
    }

    private function state(array &$out, string $rule, bool $fire, bool $clear, string $level, string $msg, string $okMsg): void
    {
        if ($fire && !isset($this->firing[$rule])) {
            $this->firing[$rule] = true;
            $out[] = $this->alert($level, $rule, 'firing', $msg);
        } elseif ($clear && isset($this->firing[$rule])) {
            unset($this->firing[$rule]);
            $out[] = $this->alert('ok', $rule, 'resolved', $okMsg);
        }
    }

    private function alert(string $level, string $rule, string $state, string $msg, ?float $value = null): array
    {
        return ['level' => $level, 'rule' => $rule, 'state' => $state, 'message' => $msg,
            'value' => $value, 'time' => date(DATE_ATOM)];
    }
}
