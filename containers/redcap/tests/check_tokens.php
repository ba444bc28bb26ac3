<?php

declare(strict_types=1);

// php check_tokens.php <vectors.json>: regenerates each token of sigv4_vectors.py with the
// image's RdsIamToken and compares byte for byte. Exit 1 on any difference.

require_once __DIR__ . '/../lib/aws.php';

use RedcapImage\AwsCredentials;
use RedcapImage\RdsIamToken;

$vectors = json_decode((string) file_get_contents($argv[1] ?? 'php://stdin'), true, 8, JSON_THROW_ON_ERROR);
if (!is_array($vectors) || $vectors === []) {
    fwrite(STDERR, "no test vectors\n");
    exit(1);
}
$failed = 0;
foreach ($vectors as $i => $v) {
    $token = RdsIamToken::generate(
        $v['host'],
        $v['port'],
        $v['user'],
        $v['region'],
        new AwsCredentials($v['accessKeyId'], $v['secretAccessKey'], $v['sessionToken']),
        $v['time'],
    );
    if ($token === $v['expected']) {
        echo "  ok   vector $i ({$v['host']}, {$v['region']})\n";
    } else {
        $failed++;
        echo "  FAIL vector $i\n       expected {$v['expected']}\n       got      $token\n";
    }
}
exit($failed > 0 ? 1 : 0);
