-- clv_import_xgboost: a small model saved by XGBoost 1.7 (test/data/README.md)
-- scores as XGBoost's predict did, explains with TreeSHAP, and every malformed
-- or unsupported model is a clean error.
SET client_min_messages = warning;   -- quiet whichever test creates the extension first
CREATE EXTENSION IF NOT EXISTS clv;
RESET client_min_messages;

CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text
LANGUAGE plpgsql AS
$$ BEGIN EXECUTE q; RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$;
-- the error of importing the tiny model changed at path to value
CREATE FUNCTION pg_temp.import_with(path text[], value jsonb) RETURNS text
LANGUAGE plpgsql AS
$$ DECLARE msg text; detail text; state text;
   BEGIN
     PERFORM clv_import_xgboost(jsonb_set(doc, path, value, false)) FROM xgb_json;
     RETURN 'no error';
   EXCEPTION WHEN OTHERS THEN
     GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, state = RETURNED_SQLSTATE;
     RETURN state || ': ' || msg || coalesce(' / ' || nullif(detail, ''), '');
   END $$;

CREATE TEMP TABLE xgb_json (doc jsonb);
\copy xgb_json FROM 'test/data/xgboost_tiny.json'
CREATE TEMP TABLE xgb AS SELECT clv_import_xgboost(doc) AS model FROM xgb_json;

-- XGBoost 1.7.4's predict, predict(output_margin=True) and
-- predict(pred_contribs=True) of these rows, as written when the model was saved
CREATE TEMP TABLE xgb_rows (i int, x float8[], want float8, want_margin float8, want_phi float8[]);
INSERT INTO xgb_rows VALUES
    (1, '{0.5,-1.0,0.2}', 0.27210328, -0.98397744, '{0.34118384,-0.39211538,-0.4826599}'),
    (2, '{NaN,0.3,NaN}',  0.40613422, -0.37996957, '{-0.29536772,0.08626401,0.27952018}'),
    (3, '{-0.7,NaN,1.5}', 0.2897081,  -0.8968022,  '{-0.5377914,0.08626401,0.0051112}'),
    (4, '{NaN,NaN,NaN}',  0.40613422, -0.37996957, '{-0.29536772,0.08626401,0.27952018}');
SELECT i, abs(clv_predict(model, x) / want - 1) < 1e-6 AS predict_matches,
       abs(clv_explain_expected(model) + (SELECT sum(e) FROM unnest(clv_explain(model, x)) e)
           - want_margin) < 1e-6 AS explain_adds_up,
       (SELECT max(abs(a - b)) FROM unnest(clv_explain(model, x), want_phi) u(a, b)) < 1e-6
           AS contributions_match,
       abs(clv_explain_expected(model) - -0.450386) < 1e-6 AS expected_matches
FROM xgb, xgb_rows ORDER BY i;

-- the model: a gbm with the feature names and the import recorded
SELECT j->>'kind' AS kind, j->'features' AS features, j->>'loss' AS loss,
       j->>'n_trees' AS n_trees, j->>'imported_from' AS imported_from,
       j->>'xgboost_version' AS version, j->>'objective' AS objective
FROM xgb, clv_model_info(model) j;
-- the same JSON gives the same bytes
SELECT clv_import_xgboost(doc) = model AS same_bytes FROM xgb, xgb_json;
SELECT clv_import_xgboost(NULL) IS NULL AS null_is_null;

-- unsupported models name what is unsupported
SELECT pg_temp.import_with('{learner,objective,name}', '"multi:softprob"');
SELECT pg_temp.import_with('{learner,objective,name}', '"reg:gamma"');
SELECT pg_temp.import_with('{learner,gradient_booster,name}', '"dart"');
SELECT pg_temp.import_with('{learner,gradient_booster,name}', '"gblinear"');
SELECT pg_temp.import_with('{learner,learner_model_param,num_class}', '"3"');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,0,split_type}', '[1,0,0,0,0,0,0]');
SELECT pg_temp.import_with('{version}', '[0,90,0]');

-- malformed structure: 22P02 naming the key
SELECT pg_temp.sqlstate_of($$SELECT clv_import_xgboost('[1,2]')$$);
SELECT pg_temp.sqlstate_of($$SELECT clv_import_xgboost('{}')$$);
SELECT pg_temp.import_with('{learner,gradient_booster,model}', '{"trees": []}');
SELECT pg_temp.import_with('{learner,learner_model_param,num_feature}', '"abc"');
SELECT pg_temp.import_with('{learner,learner_model_param,num_feature}', '"0"');
SELECT pg_temp.import_with('{learner,learner_model_param,num_feature}', '"1001"');
SELECT pg_temp.import_with('{learner,learner_model_param,base_score}', 'true');
SELECT pg_temp.import_with('{learner,gradient_booster,model,gbtree_model_param,num_trees}', '"4"');
SELECT pg_temp.import_with('{learner,gradient_booster,model,tree_info}', '[0,1,0]');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,1}', '"tree"');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,1,left_children}', '[1,3,5,-1,-1,-1]');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,1,split_conditions,0}', '"x"');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,1,split_conditions,0}', '1e40');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,1,split_indices,0}', '1.5');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,1,default_left,0}', '2');
SELECT pg_temp.import_with('{learner,feature_names}', '["a","b"]');
SELECT pg_temp.import_with('{learner,feature_names}', '["a",2,"c"]');

-- malformed trees: 22023 naming the tree and node
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,2,left_children,0}', '7');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,2,left_children,1}', '0');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,2,right_children,0}', '1');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,2,right_children,3}', '4');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,2,split_indices,0}', '3');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,2,sum_hessian,1}', '-1');
SELECT pg_temp.import_with('{learner,learner_model_param,base_score}', '"1E0"');
SELECT pg_temp.import_with('{learner,gradient_booster,model,trees,0,left_children,0}', '0');

-- scoring an imported model checks x as for any gbm model
SELECT pg_temp.sqlstate_of($$SELECT clv_predict(model, '{1,2}') FROM xgb$$);
