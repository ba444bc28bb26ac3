<?php

declare(strict_types=1);

// REDCAP_SETTINGS_JSON -> the redcap_config rows the environment manages.
//
// The JSON is spec.redcap.settings of the RedcapEnvironment (camelCase, as the operator
// serialises it) plus `extraConfig` (spec.redcap.extraConfig). A member that is absent is
// not managed: its redcap_config row is left as REDCap or an administrator set it. Values
// are user input: they only ever reach SQL as bound parameters.

namespace RedcapImage;

final class Settings
{
    /** redcap_config row holding the hash of the last applied settings. */
    public const HASH_FIELD = 'redcap_operator_settings_sha256';

    /** Rows the image manages itself; extraConfig may not name them (mirrors the CRD rule). */
    public const MANAGED_FIELDS = [
        'edoc_storage_option', 'amazon_s3_bucket', 'amazon_s3_key', 'amazon_s3_secret',
        'amazon_s3_endpoint', 'redcap_base_url', 'auth_meth_global', 'from_email',
        'language_global', 'api_enabled', 'auto_report_stats', 'read_replica_enable',
        'redcap_version', self::HASH_FIELD,
    ];

    public const AUTH_METHODS = [
        'Table' => 'table',
        'Ldap' => 'ldap',
        'LdapTable' => 'ldap_table',
        'Shibboleth' => 'shibboleth',
        'ShibbolethTable' => 'shibboleth_table',
        'OpenIdConnect' => 'openid_connect',
        'OpenIdConnectTable' => 'openid_connect_table',
        'None' => 'none',
    ];

    private const KNOWN_KEYS = [
        'baseUrl', 'apiEnabled', 'autoReportStats', 'languageGlobal', 'contactEmail',
        'authMethod', 'siteAdmin', 'extraConfig',
    ];

    /**
     * @param array<string,string> $config redcap_config field => value
     * @param array{username:string,firstName:?string,lastName:?string,email:?string} $admin
     * @param list<string> $warnings
     */
    private function __construct(
        public readonly array $config,
        public readonly array $admin,
        public readonly array $warnings,
    ) {
    }

    public static function fromEnv(?StorageConfig $storage): self
    {
        return self::parse(Env::get('REDCAP_SETTINGS_JSON', '{}'), $storage);
    }

    public static function parse(string $json, ?StorageConfig $storage): self
    {
        try {
            $s = json_decode($json, true, 16, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new ConfigError('REDCAP_SETTINGS_JSON is not valid JSON: ' . $e->getMessage());
        }
        if (!is_array($s) || ($s !== [] && array_is_list($s))) {
            throw new ConfigError('REDCAP_SETTINGS_JSON must be a JSON object');
        }
        $warnings = [];
        foreach (array_keys($s) as $k) {
            if (!in_array($k, self::KNOWN_KEYS, true)) {
                $warnings[] = "REDCAP_SETTINGS_JSON: unknown member \"$k\" ignored";
            }
        }
        $c = [];
        if (array_key_exists('baseUrl', $s) && $s['baseUrl'] !== null) {
            $url = self::str($s, 'baseUrl', 2048);
            $parts = parse_url($url);
            if ($parts === false || !in_array(strtolower($parts['scheme'] ?? ''), ['https', 'http'], true) || ($parts['host'] ?? '') === ''
                || isset($parts['query']) || isset($parts['fragment']) || isset($parts['user'])) {
                throw new ConfigError('REDCAP_SETTINGS_JSON.baseUrl must be an https:// URL without query or fragment');
            }
            // REDCap expects the base URL to end with a slash.
            $c['redcap_base_url'] = str_ends_with($url, '/') ? $url : $url . '/';
        }
        foreach (['apiEnabled' => 'api_enabled', 'autoReportStats' => 'auto_report_stats'] as $key => $field) {
            if (array_key_exists($key, $s) && $s[$key] !== null) {
                if (!is_bool($s[$key])) {
                    throw new ConfigError("REDCAP_SETTINGS_JSON.$key must be true or false");
                }
                $c[$field] = $s[$key] ? '1' : '0';
            }
        }
        if (array_key_exists('languageGlobal', $s) && $s['languageGlobal'] !== null) {
            $lang = self::str($s, 'languageGlobal', 64);
            if (!preg_match('/^[A-Za-z0-9][A-Za-z0-9 ._()-]*$/', $lang)) {
                throw new ConfigError('REDCAP_SETTINGS_JSON.languageGlobal must be a language name such as English');
            }
            $c['language_global'] = $lang;
        }
        if (array_key_exists('contactEmail', $s) && $s['contactEmail'] !== null) {
            $email = self::email($s, 'contactEmail');
            $c['from_email'] = $email;
            $c['homepage_contact_email'] = $email;
            $c['project_contact_email'] = $email;
        }
        if (array_key_exists('authMethod', $s) && $s['authMethod'] !== null) {
            $m = self::str($s, 'authMethod', 32);
            $value = self::AUTH_METHODS[$m] ?? (in_array($m, self::AUTH_METHODS, true) ? $m : null);
            if ($value === null) {
                throw new ConfigError('REDCAP_SETTINGS_JSON.authMethod must be one of ' . implode(', ', array_keys(self::AUTH_METHODS)));
            }
            $c['auth_meth_global'] = $value;
        }
        if ($storage !== null) {
            $c['edoc_storage_option'] = '2';
            $c['amazon_s3_bucket'] = $storage->bucket;
            $c['amazon_s3_endpoint'] = $storage->region;
            $c['amazon_s3_key'] = $storage->accessKeyId;
            $c['amazon_s3_secret'] = $storage->secretAccessKey;
        }
        foreach (self::extraConfig($s['extraConfig'] ?? []) as $name => $value) {
            $c[$name] = $value;
        }
        ksort($c, SORT_STRING);
        return new self($c, self::admin($s['siteAdmin'] ?? null), $warnings);
    }

    /** Hash of everything applied: equal hashes mean nothing to write. */
    public function hash(): string
    {
        return hash('sha256', json_encode(['v' => 1, 'config' => $this->config, 'admin' => $this->admin], JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE));
    }

    /** @return array<string,string> */
    private static function extraConfig(mixed $extra): array
    {
        if ($extra === null) {
            return [];
        }
        // A list of {name, value} (the CRD's shape) or an object name => value.
        $pairs = [];
        if (is_array($extra) && array_is_list($extra)) {
            foreach ($extra as $i => $e) {
                if (!is_array($e) || !is_string($e['name'] ?? null) || !array_key_exists('value', $e) || !is_string($e['value'] ?? '')) {
                    throw new ConfigError("REDCAP_SETTINGS_JSON.extraConfig[$i] must be {\"name\": string, \"value\": string}");
                }
                $pairs[] = [$e['name'], (string) ($e['value'] ?? '')];
            }
        } elseif (is_array($extra)) {
            foreach ($extra as $name => $value) {
                if (!is_string($value)) {
                    throw new ConfigError('REDCAP_SETTINGS_JSON.extraConfig values must be strings');
                }
                $pairs[] = [(string) $name, $value];
            }
        } else {
            throw new ConfigError('REDCAP_SETTINGS_JSON.extraConfig must be a list of {name, value}');
        }
        $out = [];
        foreach ($pairs as [$name, $value]) {
            if (!preg_match('/^[a-z0-9_]{1,64}$/', $name)) {
                throw new ConfigError('REDCAP_SETTINGS_JSON.extraConfig names must be lower-case letters, digits and _ (at most 64)');
            }
            if (in_array($name, self::MANAGED_FIELDS, true)) {
                throw new ConfigError("REDCAP_SETTINGS_JSON.extraConfig: $name is managed by the environment (settings, storage or the image itself)");
            }
            if (strlen($value) > 65535 || !preg_match('//u', $value)) {
                throw new ConfigError("REDCAP_SETTINGS_JSON.extraConfig: the value of $name is too long or not UTF-8");
            }
            $out[$name] = $value;
        }
        return $out;
    }

    /** @return array{username:string,firstName:?string,lastName:?string,email:?string} */
    private static function admin(mixed $a): array
    {
        if ($a !== null && !is_array($a)) {
            throw new ConfigError('REDCAP_SETTINGS_JSON.siteAdmin must be an object');
        }
        $a ??= [];
        $username = array_key_exists('username', $a) && $a['username'] !== null ? self::str($a, 'username', 64, 'siteAdmin.') : 'site_admin';
        if (!preg_match('/^[A-Za-z0-9._@-]+$/', $username)) {
            throw new ConfigError('REDCAP_SETTINGS_JSON.siteAdmin.username may hold letters, digits and . _ @ -');
        }
        $opt = fn (string $k, int $max): ?string => (array_key_exists($k, $a) && $a[$k] !== null) ? self::str($a, $k, $max, 'siteAdmin.') : null;
        return [
            'username' => $username,
            'firstName' => $opt('firstName', 64),
            'lastName' => $opt('lastName', 64),
            'email' => (array_key_exists('email', $a) && $a['email'] !== null) ? self::email($a, 'email', 'siteAdmin.') : null,
        ];
    }

    /** @param array<string,mixed> $s */
    private static function str(array $s, string $key, int $max, string $prefix = ''): string
    {
        $v = $s[$key];
        // At most $max characters (as the CRD counts them), valid UTF-8.
        if (!is_string($v) || !preg_match('/^.{1,' . $max . '}$/su', $v)) {
            throw new ConfigError("REDCAP_SETTINGS_JSON.$prefix$key must be a non-empty UTF-8 string of at most $max characters");
        }
        if (preg_match('/[\x00-\x1f\x7f]/', $v)) {
            throw new ConfigError("REDCAP_SETTINGS_JSON.$prefix$key contains a control character");
        }
        return $v;
    }

    /** @param array<string,mixed> $s */
    private static function email(array $s, string $key, string $prefix = ''): string
    {
        $v = self::str($s, $key, 254, $prefix);
        if (!preg_match('/^[^\s@]+@[^\s@]+\.[^\s@]+$/', $v)) {
            throw new ConfigError("REDCAP_SETTINGS_JSON.$prefix$key must be an e-mail address");
        }
        return $v;
    }
}
