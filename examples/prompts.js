#!/usr/bin/gjs
// examples/prompts.js: list the registry and run a pipeline file from gjs.
//
//   tests/run-uninstalled gjs examples/prompts.js pipelines/label-prompts.pipeline OUT_DIR
imports.gi.versions.Cxr = '1.0';
const { Cxr } = imports.gi;

function listStages() {
    const registry = Cxr.Registry.get_default();
    return registry.list_stages();
}

function runFile(path, outDir) {
    const pipeline = Cxr.Pipeline.new_from_file(path, [`OUT=${outDir}`]);
    const scheduler = Cxr.Scheduler.new(pipeline);
    scheduler.progress = Cxr.ProgressMode.NONE;
    const events = [];
    scheduler.connect('event', (_s, line) => events.push(JSON.parse(line)));
    scheduler.run(null);
    return events;
}

if (typeof ARGV !== 'undefined' && ARGV.length === 2 && imports.system.programInvocationName.endsWith('prompts.js')) {
    print(`stages: ${listStages().join(', ')}`);
    const events = runFile(ARGV[0], ARGV[1]);
    const done = events[events.length - 1];
    print(`${done.samples} prompts, status ${done.status}`);
}
