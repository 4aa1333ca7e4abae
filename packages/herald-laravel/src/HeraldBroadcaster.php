<?php

declare(strict_types=1);

namespace Herald\Laravel;

use Illuminate\Broadcasting\BroadcastException;
use Illuminate\Broadcasting\Broadcasters\Broadcaster;
use Illuminate\Broadcasting\Broadcasters\UsePusherChannelConventions;
use Illuminate\Http\JsonResponse;
use Illuminate\Support\Arr;
use Illuminate\Support\Str;
use InvalidArgumentException;
use JsonException;
use RuntimeException;
use Symfony\Component\HttpKernel\Exception\AccessDeniedHttpException;

/**
 * Laravel's broadcaster for Herald: events go to herald-relay through the
 * herald extension's herald_publish() (one write on a Unix socket the PHP
 * process keeps open; no HTTP request per broadcast), and channel
 * authorization answers in Pusher's format, so Laravel Echo with the
 * pusher-js connector subscribes through the relay's Pusher front as it
 * would to Pusher, Soketi or Reverb.
 *
 * Everything a client sees is what Laravel's PusherBroadcaster with
 * pusher-php-server would produce: the same auth signatures, the same
 * event names, the same payload, the same end-to-end encryption on
 * private-encrypted- channels.
 */
class HeraldBroadcaster extends Broadcaster
{
    use UsePusherChannelConventions;

    private const ENCRYPTED_PREFIX = 'private-encrypted-';

    /** A Pusher socket id, which is what the relay's connection ids are. */
    private const SOCKET_ID = '/\A\d+\.\d+\z/';

    private string $key;

    private string $secret;

    private string $appId;

    /** 32 raw bytes, or null: private-encrypted- channels refused. */
    private ?string $masterKey;

    /** Answer ?callback= with JSONP (off unless asked: Laravel 12 made it opt-in, 'jsonp' => true). */
    private bool $allowJsonp;

    /**
     * @param  array<string, mixed>  $options  encryption_master_key_base64
     *   (or the older encryption_master_key, 32 raw bytes), as Pusher's; the
     *   rest (host, port, scheme...) is for the browser side, not used here.
     */
    public function __construct(string $key, string $secret, string $appId = '', array $options = [], bool $allowJsonp = false)
    {
        if (! function_exists('herald_publish')) {
            throw new RuntimeException('the herald PHP extension is not loaded (php --ri herald)');
        }
        if ($key === '' || $secret === '') {
            throw new InvalidArgumentException('the herald broadcaster needs a key and a secret (the relay\'s pusher_key and pusher_secret)');
        }
        $this->key = $key;
        $this->secret = $secret;
        $this->appId = $appId;
        $this->masterKey = self::masterKey($options);
        $this->allowJsonp = $allowJsonp;
    }

    /**
     * From a broadcasting.connections entry: key, secret, app_id, options
     * and jsonp, the keys of Laravel's pusher connection.
     *
     * @param  array<string, mixed>  $config
     */
    public static function fromConfig(array $config): self
    {
        return new self(
            (string) ($config['key'] ?? ''),
            (string) ($config['secret'] ?? ''),
            (string) ($config['app_id'] ?? ''),
            (array) ($config['options'] ?? []),
            (bool) ($config['jsonp'] ?? false)
        );
    }

    public function getAppId(): string
    {
        return $this->appId;
    }

    /**
     * Authenticate the incoming request for a given channel (what
     * Broadcast::auth() and the /broadcasting/auth route call).
     *
     * @param  \Illuminate\Http\Request  $request
     * @return mixed
     *
     * @throws AccessDeniedHttpException
     */
    public function auth($request)
    {
        $channelName = $this->normalizeChannelName((string) $request->channel_name);

        if (empty($request->channel_name) ||
            ($this->isGuardedChannel($request->channel_name) &&
            ! $this->retrieveUser($request, $channelName))) {
            throw new AccessDeniedHttpException();
        }

        return parent::verifyUserCanAccessChannel($request, $channelName);
    }

    /**
     * Pusher's auth answer: {"auth": "key:signature"}, plus channel_data on
     * presence channels and shared_secret on private-encrypted- ones.
     *
     * @param  \Illuminate\Http\Request  $request
     * @param  mixed  $result  the channel callback's answer (presence: the user's info)
     * @return mixed
     */
    public function validAuthenticationResponse($request, $result)
    {
        $channel = (string) $request->channel_name;
        $socket = (string) $request->socket_id;
        // A socket id the relay cannot have given: nothing to sign (Pusher's
        // library throws here; a 403 is what a browser can act on).
        if (! preg_match(self::SOCKET_ID, $socket)) {
            throw new AccessDeniedHttpException('invalid socket_id');
        }

        if (Str::startsWith($channel, 'private')) {
            return $this->respond($request, $this->signature($channel, $socket));
        }

        $user = $this->retrieveUser($request, $this->normalizeChannelName($channel));
        $id = method_exists($user, 'getAuthIdentifierForBroadcasting')
            ? $user->getAuthIdentifierForBroadcasting()
            : $user->getAuthIdentifier();

        $member = ['user_id' => $id];
        if ($result) {
            $member['user_info'] = $result;
        }

        return $this->respond($request, $this->signature($channel, $socket, json_encode($member, JSON_THROW_ON_ERROR)));
    }

    /**
     * Broadcast the event on each channel: one herald_publish() per channel,
     * as Pusher delivers an event once per channel (Echo listens per
     * channel). The payload's socket (Laravel's toOthers(), from the
     * X-Socket-ID header) becomes except: that connection is skipped.
     *
     * @param  array<int, mixed>  $channels
     * @param  string  $event
     * @param  array<string, mixed>  $payload
     *
     * @throws BroadcastException
     */
    public function broadcast(array $channels, $event, array $payload = [])
    {
        $socket = Arr::pull($payload, 'socket');
        // X-Socket-ID is whatever the browser sent: one that is no socket id
        // excludes nobody rather than failing the broadcast.
        $except = is_string($socket) && preg_match(self::SOCKET_ID, $socket) ? $socket : null;

        foreach ($this->formatChannels($channels) as $channel) {
            try {
                // The value, not its JSON text: the extension encodes it and
                // marks it JSON, so Pusher and SSE clients get the JSON text
                // and herald.v1 clients the value itself.
                $data = Str::startsWith($channel, self::ENCRYPTED_PREFIX)
                    ? $this->encrypt($channel, json_encode($payload, JSON_THROW_ON_ERROR))
                    : $payload;
                $ok = $except === null
                    ? herald_publish($channel, $data, event: $event)
                    : herald_publish($channel, $data, event: $event, except: $except);
            } catch (JsonException $e) {
                throw new BroadcastException(sprintf('Herald error: the payload of %s cannot be JSON-encoded: %s.', $event, $e->getMessage()));
            }
            if (! $ok) {
                throw new BroadcastException(sprintf('Herald error: %s.', herald_last_error() ?? 'publish failed'));
            }
        }
    }

    /**
     * @return array{auth: string, channel_data?: string, shared_secret?: string}
     */
    private function signature(string $channel, string $socket, ?string $channelData = null): array
    {
        $signed = $socket . ':' . $channel . ($channelData === null ? '' : ':' . $channelData);
        $out = ['auth' => $this->key . ':' . hash_hmac('sha256', $signed, $this->secret)];
        if ($channelData !== null) {
            $out['channel_data'] = $channelData;
        }
        if (Str::startsWith($channel, self::ENCRYPTED_PREFIX)) {
            $out['shared_secret'] = base64_encode($this->sharedSecret($channel));
        }

        return $out;
    }

    /**
     * @param  \Illuminate\Http\Request  $request
     * @param  array<string, string>  $answer
     * @return array<string, string>|JsonResponse
     */
    private function respond($request, array $answer)
    {
        if (! $this->allowJsonp || ! $request->input('callback', false)) {
            return $answer;
        }

        return (new JsonResponse($answer))->withCallback($request->callback);
    }

    /** Per channel, as pusher-php-server and pusher-js derive it. */
    private function sharedSecret(string $channel): string
    {
        if ($this->masterKey === null) {
            throw new BroadcastException('Herald error: private-encrypted- channels need options.encryption_master_key_base64 (32 bytes, base64).');
        }

        return hash('sha256', $channel . $this->masterKey, true);
    }

    /**
     * NaCl secretbox with a random nonce, as pusher-php-server's
     * encrypt_payload(): what pusher-js's encrypted channels open.
     *
     * @return array{nonce: string, ciphertext: string}
     */
    private function encrypt(string $channel, string $plaintext): array
    {
        $nonce = random_bytes(SODIUM_CRYPTO_SECRETBOX_NONCEBYTES);
        $box = sodium_crypto_secretbox($plaintext, $nonce, $this->sharedSecret($channel));

        return ['nonce' => base64_encode($nonce), 'ciphertext' => base64_encode($box)];
    }

    /** @param array<string, mixed> $options */
    private static function masterKey(array $options): ?string
    {
        if (! empty($options['encryption_master_key_base64'])) {
            $key = base64_decode((string) $options['encryption_master_key_base64'], true);
            if ($key === false) {
                throw new InvalidArgumentException('encryption_master_key_base64 is not valid base64');
            }
        } elseif (! empty($options['encryption_master_key'])) {
            $key = (string) $options['encryption_master_key'];
        } else {
            return null;
        }
        if (strlen($key) !== SODIUM_CRYPTO_SECRETBOX_KEYBYTES) {
            throw new InvalidArgumentException('the encryption master key must be 32 bytes long');
        }

        return $key;
    }
}
