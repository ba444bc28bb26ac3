<?php

declare(strict_types=1);

// Files written at container start into the runtime directory (0700, owned by the user
// REDCap runs as; every file 0600): REDCap's database connection settings and the mail
// relay's configuration. Pure functions render them; writeFile() puts them in place
// atomically.

namespace RedcapImage;

final class Render
{
    /**
     * database.php as REDCap reads it (it includes the file on every connection, several
     * times per request, so the file only assigns variables).
     *
     * IAM mode: the password is a fresh RDS IAM token per include, generated for the host it
     * is used with (writer and reader endpoints get their own). Password mode: the REDCap
     * user's password derived from the salt. Either way TLS with server certificate
     * verification against the RDS CA bundle, for the writer and the reader.
     */
    public static function databasePhp(DbConfig $db, Salt $salt, string $libDir): string
    {
        $e = fn (mixed $v): string => var_export($v, true);
        $password = fn (string $host): string => $db->iamAuth
            ? '\\RedcapImage\\rds_iam_password(' . $e($host) . ', ' . $db->port . ', ' . $e($db->appUser) . ', ' . $e($db->region) . ')'
            : $e($salt->appDbPassword());
        $tls = fn (string $prefix): string => implode("\n", [
            "\${$prefix}db_ssl_key = '';",
            "\${$prefix}db_ssl_cert = '';",
            "\${$prefix}db_ssl_ca = " . $e($db->caBundle) . ';',
            "\${$prefix}db_ssl_capath = null;",
            "\${$prefix}db_ssl_cipher = null;",
            "\${$prefix}db_ssl_verify_server_cert = true;",
        ]);
        $lines = [
            '<?php',
            '// Written by redcap-entrypoint at container start from the environment; rewritten at',
            '// every start, do not edit. REDCap includes it through database.php in its web root.',
            '// Authentication: ' . ($db->iamAuth ? 'RDS IAM token per connection' : 'password') . '; read replica: ' . ($db->readerHost !== null ? 'on' : 'off') . '.',
            'global $log_all_errors;',
            '$log_all_errors = false;',
        ];
        if ($db->iamAuth) {
            $lines[] = 'require_once ' . $e($libDir . '/aws.php') . ';';
        }
        $lines[] = '$hostname = ' . $e($db->host . ':' . $db->port) . ';';
        $lines[] = '$db = ' . $e($db->name) . ';';
        $lines[] = '$username = ' . $e($db->appUser) . ';';
        $lines[] = '$password = ' . $password($db->host) . ';';
        $lines[] = $tls('');
        $lines[] = '$salt = ' . $e($salt->forRedcap()) . ';';
        if ($db->readerHost !== null) {
            $lines[] = '// Reads of reports, exports and dashboards go to the reader endpoint (REDCap checks its lag).';
            $lines[] = '$read_replica_hostname = ' . $e($db->readerHost . ':' . $db->port) . ';';
            $lines[] = '$read_replica_db = ' . $e($db->name) . ';';
            $lines[] = '$read_replica_username = ' . $e($db->appUser) . ';';
            $lines[] = '$read_replica_password = ' . $password($db->readerHost) . ';';
            $lines[] = $tls('read_replica_');
        }
        return implode("\n", $lines) . "\n";
    }

    /** The web root's database.php (baked into the image): points at the runtime file. */
    public static function databasePhpStub(): string
    {
        return implode("\n", [
            '<?php',
            '// REDCap image: the connection settings are written at container start by',
            '// redcap-entrypoint into the runtime directory (see the image README).',
            "require (getenv('REDCAP_RUNTIME_DIR') ?: '/run/redcap') . '/database.php';",
        ]) . "\n";
    }

    /** msmtp configuration: SES SMTP on 587 with STARTTLS and certificate verification. */
    public static function msmtprc(MailConfig $m): string
    {
        $q = [self::class, 'msmtpQuote'];
        return implode("\n", [
            '# Written by redcap-entrypoint at container start; rewritten at every start.',
            'defaults',
            'auth on',
            'tls on',
            'tls_starttls on',
            'tls_trust_file ' . $q($m->trustFile),
            // Mail logs would hold recipients' addresses; failures still reach stderr.
            'syslog off',
            '',
            'account ses',
            'host ' . $q($m->host),
            'port ' . $m->port,
            'from ' . $q($m->from),
            'user ' . $q($m->username),
            'password ' . $q($m->password),
            '',
            'account default : ses',
        ]) . "\n";
    }

    /** Header lines redcap-sendmail puts in front of each message ('' for none). */
    public static function mailHeaders(MailConfig $m): string
    {
        return $m->configurationSet !== null ? 'X-SES-CONFIGURATION-SET: ' . $m->configurationSet . "\n" : '';
    }

    /** msmtp argument quoting: double quotes, with \ and " escaped. */
    public static function msmtpQuote(string $v): string
    {
        if (preg_match('/[\x00-\x1f\x7f]/', $v)) {
            throw new ConfigError('an msmtp setting contains a control character');
        }
        return '"' . str_replace(['\\', '"'], ['\\\\', '\\"'], $v) . '"';
    }

    /** Writes $content to $path with mode 0600, atomically (temporary file + rename). */
    public static function writeFile(string $path, string $content): void
    {
        $dir = dirname($path);
        $tmp = @tempnam($dir, '.tmp-');
        if ($tmp === false) {
            throw new \RuntimeException("cannot create a file in $dir (is the runtime directory writable?)");
        }
        try {
            if (!chmod($tmp, 0600) || file_put_contents($tmp, $content) !== strlen($content) || !rename($tmp, $path)) {
                throw new \RuntimeException("cannot write $path");
            }
        } finally {
            if (is_file($tmp)) {
                @unlink($tmp);
            }
        }
    }
}
