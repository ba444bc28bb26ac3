<?php

declare(strict_types=1);

// The entrypoint's PHP half:
//   php cli.php start       validate the environment, write the runtime files, bootstrap the database
//   php cli.php render      validate and write the runtime files only (database.php, msmtprc, mail headers)
//   php cli.php bootstrap   the database work only (bootstrap.php)
//   php cli.php stub        print the web root's database.php (used when the image is built)
// Exit status 0 on success, 1 on any error (printed as one line, without secret values),
// 2 on bad usage.

namespace RedcapImage;

require_once __DIR__ . '/aws.php';
require_once __DIR__ . '/config.php';
require_once __DIR__ . '/settings.php';
require_once __DIR__ . '/render.php';
require_once __DIR__ . '/db.php';
require_once __DIR__ . '/bootstrap.php';

function log_line(string $message): void
{
    fwrite(STDERR, 'redcap-entrypoint: ' . $message . "\n");
}

/** Everything the start needs, validated before anything is written. */
final class Start
{
    public function __construct(
        public readonly Paths $paths,
        public readonly string $version,
        public readonly DbConfig $db,
        public readonly Salt $salt,
        public readonly ?MailConfig $mail,
        public readonly ?StorageConfig $storage,
        public readonly Settings $settings,
    ) {
    }

    public static function fromEnv(): self
    {
        $paths = Paths::fromEnv();
        $version = Check::matches('REDCAP_VERSION', Env::required('REDCAP_VERSION', 'set in the image'), Check::VERSION, 'X.Y.Z');
        if (!is_dir($paths->webroot . '/redcap_v' . $version)) {
            throw new ConfigError("REDCAP_VERSION is $version but {$paths->webroot}/redcap_v$version does not exist");
        }
        $tz = Env::get('REDCAP_TIMEZONE', 'UTC');
        if (!in_array($tz, \DateTimeZone::listIdentifiers(), true)) {
            throw new ConfigError('REDCAP_TIMEZONE must be an IANA time zone such as Europe/London');
        }
        $storage = StorageConfig::fromEnv();
        return new self(
            $paths,
            $version,
            DbConfig::fromEnv($paths->shareDir),
            Salt::fromEnv(),
            MailConfig::fromEnv(),
            $storage,
            Settings::fromEnv($storage),
        );
    }

    public function render(): void
    {
        $dir = $this->paths->runtimeDir;
        if (!is_dir($dir) || !is_writable($dir)) {
            throw new ConfigError("REDCAP_RUNTIME_DIR: $dir is not a writable directory");
        }
        Render::writeFile("$dir/database.php", Render::databasePhp($this->db, $this->salt, $this->paths->lib()));
        log_line('wrote database.php (' . ($this->db->iamAuth ? 'IAM authentication' : 'password authentication') . ', TLS verified against ' . basename($this->db->caBundle) . ', read replica ' . ($this->db->readerHost !== null ? 'on' : 'off') . ')');
        if ($this->mail !== null) {
            Render::writeFile("$dir/msmtprc", Render::msmtprc($this->mail));
            Render::writeFile("$dir/mail-headers", Render::mailHeaders($this->mail));
            log_line("wrote msmtprc (relay {$this->mail->host}:{$this->mail->port}, STARTTLS" . ($this->mail->configurationSet !== null ? ', SES configuration set ' . $this->mail->configurationSet : '') . ')');
        } else {
            @unlink("$dir/msmtprc");
            @unlink("$dir/mail-headers");
            log_line('WARNING: REDCAP_SMTP_CREDENTIALS is not set: REDCap cannot send mail');
        }
        if ($this->storage === null) {
            log_line('WARNING: REDCAP_S3_BUCKET is not set: REDCap keeps uploaded files on the container\'s disk, which does not survive a restart');
        }
    }

    public function bootstrap(): void
    {
        $password = Env::get('REDCAP_SITE_ADMIN_PASSWORD');
        (new Bootstrap(
            $this->paths,
            $this->db,
            MasterCredentials::fromEnv(),
            $this->salt,
            $this->settings,
            $password,
            $this->version,
            Env::bool('REDCAP_AUTO_UPGRADE', true),
            Env::int('REDCAP_BOOTSTRAP_LOCK_TIMEOUT', 900, 1, 86400),
            fn (string $m) => log_line($m),
        ))->run();
    }
}

function main(array $argv): int
{
    $cmd = $argv[1] ?? '';
    try {
        switch ($cmd) {
            case 'stub':
                echo Render::databasePhpStub();
                return 0;
            case 'render':
                Start::fromEnv()->render();
                return 0;
            case 'bootstrap':
                $s = Start::fromEnv();
                MasterCredentials::fromEnv();
                $s->bootstrap();
                return 0;
            case 'start':
                $s = Start::fromEnv();
                // Validate the secrets bootstrap needs before writing anything.
                MasterCredentials::fromEnv();
                $s->render();
                $s->bootstrap();
                return 0;
            default:
                fwrite(STDERR, "usage: cli.php start|render|bootstrap|stub\n");
                return 2;
        }
    } catch (ConfigError $e) {
        log_line('configuration error: ' . $e->getMessage());
        return 1;
    } catch (\Throwable $e) {
        log_line('ERROR: ' . $e->getMessage());
        return 1;
    }
}

if (PHP_SAPI === 'cli' && realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) {
    exit(main($argv));
}
