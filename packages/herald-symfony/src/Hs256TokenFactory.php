<?php

declare(strict_types=1);

namespace Herald\Mercure;

use Symfony\Component\Mercure\Exception\InvalidArgumentException;
use Symfony\Component\Mercure\Jwt\TokenFactoryInterface;

/**
 * Mints Mercure JWTs signed with HS256 (the relay's mercure_jwt_key, or its
 * mercure_subscriber_jwt_key for subscriber cookies), without lcobucci/jwt,
 * which symfony/mercure's own LcobucciFactory needs and Debian does not
 * package. The claims are LcobucciFactory's: {"mercure": {"publish": [...],
 * "subscribe": [...]}} plus the additional claims, a DateTimeInterface (exp,
 * nbf, iat) as its Unix time.
 */
final class Hs256TokenFactory implements TokenFactoryInterface
{
    private string $secret;

    private ?int $jwtLifetime;

    /**
     * @param string   $secret      the HS256 key (the relay takes keys of 32 bytes or more as the hub does)
     * @param int|null $jwtLifetime when not null, "exp" is now + this many seconds unless a claim sets it
     */
    public function __construct(string $secret, ?int $jwtLifetime = 3600)
    {
        if ($secret === '') {
            throw new InvalidArgumentException('The JWT secret must not be empty.');
        }
        $this->secret = $secret;
        $this->jwtLifetime = $jwtLifetime;
    }

    public function create(?array $subscribe = [], ?array $publish = [], array $additionalClaims = []): string
    {
        if ($this->jwtLifetime !== null && !\array_key_exists('exp', $additionalClaims)) {
            $additionalClaims['exp'] = time() + $this->jwtLifetime;
        }
        $mercure = [];
        if ($publish !== null) {
            $mercure['publish'] = array_values($publish);
        }
        if ($subscribe !== null) {
            $mercure['subscribe'] = array_values($subscribe);
        }
        $additionalClaims['mercure'] = array_merge($mercure, $additionalClaims['mercure'] ?? []);

        $claims = [];
        foreach ($additionalClaims as $name => $value) {
            if ($value instanceof \DateTimeInterface) {
                $value = $value->getTimestamp();
            }
            if ($value !== null) {
                $claims[$name] = $value;
            }
        }

        $head = self::base64url('{"alg":"HS256","typ":"JWT"}');
        $body = self::base64url(json_encode($claims, \JSON_UNESCAPED_SLASHES | \JSON_UNESCAPED_UNICODE | \JSON_THROW_ON_ERROR));
        $mac = hash_hmac('sha256', "$head.$body", $this->secret, true);

        return "$head.$body." . self::base64url($mac);
    }

    private static function base64url(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }
}
