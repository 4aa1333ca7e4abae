<?php
/* SPDX-License-Identifier: MIT
 * pusher_client.php: the part of pusher-php-server (7.x) that
 * Laravel's PusherBroadcaster uses, trigger(), with PHP's ext/curl and one
 * reused handle (keep-alive) instead of Guzzle. Debian has no
 * pusher-php-server package; this lets bench/ measure what Laravel's own
 * "pusher" driver costs per broadcast() on the wire: the same body
 * ({"name","data","channels"[,"socket_id"]}, data JSON-encoded), the same
 * signed query string (auth_key, auth_timestamp, auth_version=1.0,
 * body_md5, auth_signature = HMAC-SHA256 of "POST\n<path>\n<sorted query>"),
 * the same headers. Guzzle's own per-request work (PSR-7 objects,
 * middleware) is not in it: a Laravel app with the real library pays more.
 * A benchmark helper, not a Pusher client for applications. */

namespace Pusher;

class ApiErrorException extends \Exception
{
}

class Pusher
{
    public static $VERSION = '7.2.7';

    private string $key;
    private string $secret;
    private string $appId;
    private string $base;
    private string $path;
    /** @var \CurlHandle */
    private $ch;

    /** @param array<string, mixed> $options host, port, scheme (as pusher-php-server) */
    public function __construct(string $key, string $secret, string $appId, array $options = [])
    {
        $this->key = $key;
        $this->secret = $secret;
        $this->appId = $appId;
        $this->base = ($options['scheme'] ?? 'http') . '://' . ($options['host'] ?? '127.0.0.1') . ':' . ($options['port'] ?? 80);
        $this->path = '/apps/' . $appId . '/events';
        $this->ch = curl_init();
        curl_setopt_array($this->ch, [
            \CURLOPT_POST => true,
            \CURLOPT_RETURNTRANSFER => true,
            \CURLOPT_TIMEOUT => 30,
            \CURLOPT_HTTPHEADER => ['Content-Type: application/json', 'X-Pusher-Library: pusher-http-php ' . self::$VERSION, 'Expect:'],
        ]);
    }

    /** pusher-php-server's trigger(): one POST /apps/{id}/events. */
    public function trigger($channels, string $event, $data, array $params = [], bool $alreadyEncoded = false): object
    {
        $body = json_encode([
            'name' => $event,
            'data' => $alreadyEncoded ? $data : json_encode($data, \JSON_THROW_ON_ERROR),
            'channels' => array_values((array) $channels),
        ] + $params, \JSON_THROW_ON_ERROR);
        $q = [
            'auth_key' => $this->key,
            'auth_timestamp' => time(),
            'auth_version' => '1.0',
            'body_md5' => md5($body),
        ];
        ksort($q);
        $qs = [];
        foreach ($q as $k => $v) {
            $qs[] = $k . '=' . $v;
        }
        $qs = implode('&', $qs);
        $sig = hash_hmac('sha256', "POST\n{$this->path}\n$qs", $this->secret);
        curl_setopt($this->ch, \CURLOPT_URL, "{$this->base}{$this->path}?$qs&auth_signature=$sig");
        curl_setopt($this->ch, \CURLOPT_POSTFIELDS, $body);
        $answer = curl_exec($this->ch);
        $status = curl_getinfo($this->ch, \CURLINFO_RESPONSE_CODE);
        if ($answer === false || $status !== 200) {
            throw new ApiErrorException("status $status: " . ($answer === false ? curl_error($this->ch) : $answer), (int) $status);
        }

        return json_decode($answer, false, 512, \JSON_THROW_ON_ERROR);
    }
}
