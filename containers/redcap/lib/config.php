<?php

declare(strict_types=1);

// The runtime contract of the image: every environment variable the entrypoint reads,
// parsed and validated here and nowhere else (README.md, "Runtime contract", lists them).
// Error messages name the variable, never its value: several of them are secrets.

namespace RedcapImage;

final class ConfigError extends \RuntimeException
{
}

final class Env
{
    public static function get(string $name, ?string $default = null): ?string
    {
        $v = getenv($name);
        return ($v === false || $v === '') ? $default : $v;
    }

    public static function required(string $name, string $why = ''): string
    {
        $v = self::get($name);
        if ($v === null) {
            throw new ConfigError("$name is required" . ($why !== '' ? " ($why)" : ''));
        }
        return $v;
    }

    public static function bool(string $name, bool $default): bool
    {
        $v = self::get($name);
        if ($v === null) {
            return $default;
        }
        return match (strtolower(trim($v))) {
            'true', '1', 'yes', 'on' => true,
            'false', '0', 'no', 'off' => false,
            default => throw new ConfigError("$name must be true or false"),
        };
    }

    public static function int(string $name, int $default, int $min, int $max): int
    {
        $v = self::get($name);
        if ($v === null) {
            return $default;
        }
        if (!preg_match('/^\d{1,9}$/', trim($v)) || (int) $v < $min || (int) $v > $max) {
            throw new ConfigError("$name must be an integer from $min to $max");
        }
        return (int) $v;
    }

    /**
     * A secret holding a JSON object (a Secrets Manager secret injected whole, as ECS and
     * App Runner do): returns the named string members.
     *
     * @param list<string> $keys
     * @return array<string,string>
     */
    public static function jsonSecret(string $name, array $keys): array
    {
        $raw = self::required($name);
        $j = json_decode($raw, true);
        if (!is_array($j)) {
            throw new ConfigError("$name must be a JSON object (the Secrets Manager secret value)");
        }
        $out = [];
        foreach ($keys as $k) {
            if (!is_string($j[$k] ?? null) || $j[$k] === '') {
                throw new ConfigError("$name has no string member \"$k\"");
            }
            $out[$k] = $j[$k];
        }
        return $out;
    }
}

final class Check
{
    public const HOST = '/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/';
    public const IDENT = '/^[A-Za-z0-9_]{1,64}$/';
    public const DB_USER = '/^[A-Za-z0-9_]{1,32}$/';
    public const REGION = '/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/';
    public const VERSION = '/^\d{1,3}\.\d{1,3}\.\d{1,3}$/';

    public static function matches(string $name, string $value, string $pattern, string $what): string
    {
        if (!preg_match($pattern, $value)) {
            throw new ConfigError("$name must be $what");
        }
        return $value;
    }

    public static function readableFile(string $name, string $path): string
    {
        if (!is_file($path) || !is_readable($path)) {
            throw new ConfigError("$name: file $path does not exist or is not readable");
        }
        return $path;
    }
}

/** Where things are: fixed in the image, overridable for tests and debugging. */
final class Paths
{
    public function __construct(
        public readonly string $webroot,
        public readonly string $shareDir,
        public readonly string $runtimeDir,
    ) {
    }

    public static function fromEnv(): self
    {
        return new self(
            rtrim(Env::get('REDCAP_WEBROOT', '/var/www/html'), '/'),
            rtrim(Env::get('REDCAP_SHARE_DIR', '/usr/local/share/redcap'), '/'),
            rtrim(Env::get('REDCAP_RUNTIME_DIR', '/run/redcap'), '/'),
        );
    }

    public function lib(): string
    {
        return $this->shareDir . '/lib';
    }
}

final class DbConfig
{
    public function __construct(
        public readonly string $host,
        public readonly int $port,
        public readonly string $name,
        public readonly string $appUser,
        public readonly bool $iamAuth,
        public readonly ?string $readerHost,
        public readonly string $region,
        public readonly string $caBundle,
        public readonly int $connectTimeout,
    ) {
    }

    public static function fromEnv(string $shareDir): self
    {
        $host = Check::matches('REDCAP_DB_HOST', Env::required('REDCAP_DB_HOST', 'the writer endpoint of the database'), Check::HOST, 'a host name or IP address');
        $reader = Env::get('REDCAP_DB_READER_HOST');
        if ($reader !== null) {
            Check::matches('REDCAP_DB_READER_HOST', $reader, Check::HOST, 'a host name or IP address');
        }
        $iam = Env::bool('REDCAP_DB_IAM_AUTH', true);
        $region = Env::get('AWS_REGION', Env::get('AWS_DEFAULT_REGION', ''));
        if ($iam) {
            Check::matches('AWS_REGION', Env::required('AWS_REGION', 'IAM database authentication signs for a region'), Check::REGION, 'an AWS region such as eu-west-1');
            $region = (string) Env::get('AWS_REGION');
        }
        return new self(
            $host,
            Env::int('REDCAP_DB_PORT', 3306, 1, 65535),
            Check::matches('REDCAP_DB_NAME', Env::get('REDCAP_DB_NAME', 'redcap'), Check::IDENT, 'letters, digits and _ (at most 64)'),
            Check::matches('REDCAP_DB_USER', Env::get('REDCAP_DB_USER', 'redcap_user'), Check::DB_USER, 'letters, digits and _ (at most 32)'),
            $iam,
            $reader,
            (string) $region,
            Check::readableFile('REDCAP_DB_CA_BUNDLE', Env::get('REDCAP_DB_CA_BUNDLE', $shareDir . '/rds-global-bundle.pem')),
            Env::int('REDCAP_DB_CONNECT_TIMEOUT', 300, 0, 3600),
        );
    }
}

/** The salt secret, as the seed used it: REDCap gets sha256(hex) of the secret string. */
final class Salt
{
    public function __construct(private readonly string $raw)
    {
    }

    public static function fromEnv(): self
    {
        $raw = Env::required('REDCAP_SALT', 'the salt secret; it must never change once REDCap holds data');
        if (strlen($raw) < 16) {
            throw new ConfigError('REDCAP_SALT must be at least 16 characters');
        }
        return new self($raw);
    }

    /** What database.php sets as $salt (64 hex characters; seed: DB_SALT_ALPHA). */
    public function forRedcap(): string
    {
        return hash('sha256', $this->raw);
    }

    /**
     * Password of the REDCap database user when IAM authentication is off. Derived from
     * the salt (which is never rotated), so every task computes the same one and no further
     * secret is needed; the master password, which rotates, is only used at start.
     */
    public function appDbPassword(): string
    {
        return hash_hmac('sha256', 'redcap-operator/db-app-password/v1', $this->raw);
    }
}

final class MasterCredentials
{
    public function __construct(public readonly string $username, public readonly string $password)
    {
    }

    public static function fromEnv(): self
    {
        $s = Env::jsonSecret('REDCAP_DB_MASTER_SECRET', ['username', 'password']);
        return new self($s['username'], $s['password']);
    }
}

final class StorageConfig
{
    public function __construct(
        public readonly string $bucket,
        public readonly string $region,
        public readonly string $accessKeyId,
        public readonly string $secretAccessKey,
    ) {
    }

    /** null: REDCap keeps its files on local disk (not for production: tasks have no disk). */
    public static function fromEnv(): ?self
    {
        $bucket = Env::get('REDCAP_S3_BUCKET');
        if ($bucket === null) {
            return null;
        }
        Check::matches('REDCAP_S3_BUCKET', $bucket, '/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/', 'an S3 bucket name');
        $region = Check::matches('AWS_REGION', Env::required('AWS_REGION', 'the file bucket\'s region'), Check::REGION, 'an AWS region such as eu-west-1');
        $keys = Env::jsonSecret('REDCAP_S3_CREDENTIALS', ['AccessKeyId', 'SecretAccessKey']);
        return new self($bucket, $region, $keys['AccessKeyId'], $keys['SecretAccessKey']);
    }
}

final class MailConfig
{
    public function __construct(
        public readonly string $host,
        public readonly int $port,
        public readonly string $username,
        public readonly string $password,
        public readonly string $from,
        public readonly ?string $configurationSet,
        public readonly string $trustFile,
    ) {
    }

    /** null: no SMTP credentials, REDCap cannot send mail. */
    public static function fromEnv(): ?self
    {
        if (Env::get('REDCAP_SMTP_CREDENTIALS') === null) {
            return null;
        }
        $creds = Env::jsonSecret('REDCAP_SMTP_CREDENTIALS', ['username', 'password']);
        $host = Env::get('REDCAP_SMTP_HOST');
        if ($host === null) {
            $region = Check::matches('AWS_REGION', Env::required('AWS_REGION', 'the SES SMTP endpoint is regional'), Check::REGION, 'an AWS region such as eu-west-1');
            $host = "email-smtp.$region.amazonaws.com";
        }
        Check::matches('REDCAP_SMTP_HOST', $host, Check::HOST, 'a host name');
        $from = Env::required('REDCAP_MAIL_FROM', 'the envelope sender, an address of the verified SES identity');
        Check::matches('REDCAP_MAIL_FROM', $from, '/^[^\s@"\\\\]+@[A-Za-z0-9.-]+$/', 'an e-mail address');
        $set = Env::get('REDCAP_SES_CONFIGURATION_SET');
        if ($set !== null) {
            Check::matches('REDCAP_SES_CONFIGURATION_SET', $set, '/^[A-Za-z0-9_-]{1,64}$/', 'an SES configuration set name');
        }
        foreach (['username', 'password'] as $k) {
            if (preg_match('/[\x00-\x1f\x7f]/', $creds[$k])) {
                throw new ConfigError("REDCAP_SMTP_CREDENTIALS member \"$k\" contains a control character");
            }
        }
        return new self(
            $host,
            Env::int('REDCAP_SMTP_PORT', 587, 1, 65535),
            $creds['username'],
            $creds['password'],
            $from,
            $set,
            Check::readableFile('REDCAP_TLS_TRUST_FILE', Env::get('REDCAP_TLS_TRUST_FILE', '/etc/ssl/certs/ca-certificates.crt')),
        );
    }
}
