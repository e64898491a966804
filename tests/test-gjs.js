// tests/test-gjs.js: cxrgen from gjs through GObject Introspection: list the
// registry, run the main pipeline file, compare with the expected prompts.
const GLib = imports.gi.GLib;

let n = 0;
let failed = 0;
function check(name, condition) {
    n++;
    if (condition) {
        print(`ok ${n} - ${name}`);
    } else {
        failed++;
        print(`not ok ${n} - ${name}`);
    }
}

if (GLib.getenv('CXRGEN_HAVE_INTROSPECTION') === 'no') {
    print('1..0 # SKIP built without introspection');
    imports.system.exit(0);
}
imports.gi.versions.Cxr = '1.0';
const Cxr = imports.gi.Cxr;
const src = GLib.getenv('CXRGEN_TEST_SRCDIR');
imports.searchPath.unshift(GLib.build_filenamev([src, 'examples']));
const Example = imports.prompts;

function readText(path) {
    const [ok, bytes] = GLib.file_get_contents(path);
    return ok ? new TextDecoder().decode(bytes) : null;
}

const stages = Example.listStages();
check('the registry lists label-prompt', stages.includes('label-prompt'));
check('the registry lists csv-source and csv-sink', stages.includes('csv-source') && stages.includes('csv-sink'));
const plugins = Cxr.Registry.get_default().get_plugins().map(p => p.get_name());
check('the plugins prompt and table are loaded', plugins.includes('prompt') && plugins.includes('table'));

const tmp = GLib.dir_make_tmp('cxrgen-gjs-XXXXXX');
const events = Example.runFile(GLib.build_filenamev([src, 'pipelines', 'label-prompts.pipeline']), tmp);
const out = GLib.build_filenamev([tmp, 'prompts.csv']);
const got = readText(out);
check('the run ends with status ok', events[events.length - 1].event === 'done' && events[events.length - 1].status === 'ok');
check('the prompts match tests/data/prompts-expected.csv',
    got !== null && got === readText(GLib.build_filenamev([src, 'tests', 'data', 'prompts-expected.csv'])));

const vector = new Array(14).fill(NaN);
vector[1] = 1.0;
vector[12] = 0.0;
check('labels_to_prompt is callable from gjs',
    Cxr.labels_to_prompt(vector, Cxr.LabelEncoding.CHEXPERT) === 'A chest X ray image with cardiomegaly, without pneumothorax');

let message = '';
try {
    Cxr.Pipeline.new_from_data('[stage a]\ntype=csv-source\nbatch-size=0\n', 'js.pipeline', null);
} catch (e) {
    message = e.message;
}
check('a bad value throws with FILE:LINE: stage: key', message.startsWith('js.pipeline:3: stage a: key batch-size: value 0 is out of range'));

GLib.unlink(out);
GLib.rmdir(tmp);
print(`1..${n}`);
imports.system.exit(failed === 0 ? 0 : 1);
