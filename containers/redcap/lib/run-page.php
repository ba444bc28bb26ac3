<?php

declare(strict_types=1);

// Runs one of REDCap's own pages headless, the way REDCap's automation calls them:
//   php run-page.php <webroot> <version> install|upgrade <host>
// = GET /redcap_v<version>/<page>.php?auto=1 (REDCap's auto-install and auto-upgrade).
// Apache refuses both pages from the network; this is the only way they run.
// REDCap connects through the web root's database.php, i.e. as its own database user.

if ($argc !== 5 || !in_array($argv[3], ['install', 'upgrade'], true) || !preg_match('/^\d{1,3}\.\d{1,3}\.\d{1,3}$/', $argv[2])) {
    fwrite(STDERR, "usage: run-page.php <webroot> <version> install|upgrade <host>\n");
    exit(2);
}
[, $webroot, $version, $page, $host] = $argv;
$dir = rtrim($webroot, '/') . '/redcap_v' . $version;
$file = $dir . '/' . $page . '.php';
if (!is_file($file)) {
    fwrite(STDERR, "$file does not exist\n");
    exit(2);
}

$uri = '/redcap_v' . $version . '/' . $page . '.php';
$_GET = ['auto' => '1'];
$_POST = [];
$_REQUEST = $_GET;
$_SERVER = array_merge($_SERVER, [
    'REQUEST_METHOD' => 'GET',
    'PHP_SELF' => $uri,
    'SCRIPT_NAME' => $uri,
    'SCRIPT_FILENAME' => $file,
    'REQUEST_URI' => $uri . '?auto=1',
    'QUERY_STRING' => 'auto=1',
    'DOCUMENT_ROOT' => rtrim($webroot, '/'),
    'HTTP_HOST' => $host,
    'SERVER_NAME' => $host,
    'SERVER_PORT' => '443',
    'HTTPS' => 'on',
    'REQUEST_SCHEME' => 'https',
    'REMOTE_ADDR' => '127.0.0.1',
    'HTTP_USER_AGENT' => 'redcap-entrypoint',
]);
chdir($dir);
require $file;
