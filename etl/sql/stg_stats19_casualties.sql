-- Stage DfT STATS19 casualty rows: cast, decode and classify the road user; the force comes from the
-- casualty's collision (stats19_collision_forces, built by int_stats19_collision_forces.sql).
with

source as (
    select * from raw_stats19_casualty
),

codes as (
    select * from stats19_codes
),

collision_forces as (
    select * from stats19_collision_forces
),

typed as (
    select
        row_ordinal,
        nullif(collision_index, '')                          as collision_index,
        try_cast(collision_year as integer)                  as collision_year,
        vehicle_reference                                    as vehicle_reference_text,
        try_cast(vehicle_reference as integer)               as vehicle_reference,
        casualty_reference                                   as casualty_reference_text,
        try_cast(casualty_reference as integer)              as casualty_reference,
        try_cast(casualty_class as integer)                  as casualty_class_code,
        try_cast(sex_of_casualty as integer)                 as sex_code,
        case when try_cast(age_of_casualty as integer) >= 0 then try_cast(age_of_casualty as integer) end as age_of_casualty,
        try_cast(age_band_of_casualty as integer)            as age_band_code,
        casualty_severity                                    as severity_text,
        try_cast(casualty_severity as integer)               as severity_code,
        casualty_type                                        as casualty_type_text,
        try_cast(casualty_type as integer)                   as casualty_type_code
    from source
),

decoded as (
    select
        typed.*,
        collision_forces.force_id,
        collision_forces.force_reject_reason,
        coalesce(collision_forces.in_scope, true) as in_scope,
        (select label from codes where variable = 'casualty_severity' and code = typed.severity_code) as severity,
        (select label from codes where variable = 'casualty_type' and code = typed.casualty_type_code) as casualty_type,
        (select label from codes where variable = 'casualty_class' and code = typed.casualty_class_code) as casualty_class,
        (select label from codes where variable = 'sex_of_casualty' and code = typed.sex_code) as sex_of_casualty,
        (select label from codes where variable = 'age_band_of_casualty' and code = typed.age_band_code) as age_band_of_casualty,
        case
            when typed.casualty_type_code = 0 then 'Pedestrian'
            when typed.casualty_type_code = 1 then 'Pedal cyclist'
            when typed.casualty_type_code in (2, 3, 4, 5, 23, 97) then 'Motorcyclist'
            when typed.casualty_type_code = 9 then 'Car occupant'
            else 'Other'
        end as road_user_type
    from typed
    left join collision_forces on collision_forces.collision_index = typed.collision_index
),

checked as (
    select
        decoded.*,
        case
            when collision_index is null
                then 'collision_index (accident_index) is empty'
            when force_reject_reason is not null
                then force_reject_reason
            when casualty_reference is null
                then 'casualty_reference ''' || coalesce(casualty_reference_text, '') || ''' is not a whole number'
            when severity is null
                then 'casualty_severity ''' || coalesce(severity_text, '') || ''' is not 1 (fatal), 2 (serious) or 3 (slight)'
            when casualty_type_code is null
                then 'casualty_type ''' || coalesce(casualty_type_text, '') || ''' is not a DfT casualty type code'
        end as reject_reason
    from decoded
),

final as (
    select
        collision_index,
        collision_year,
        vehicle_reference,
        casualty_reference,
        casualty_class,
        sex_of_casualty,
        age_of_casualty,
        age_band_of_casualty,
        severity_code,
        severity,
        casualty_type_code,
        casualty_type,
        road_user_type,
        force_id,
        row_ordinal,
        reject_reason,
        in_scope
    from checked
)

select * from final
